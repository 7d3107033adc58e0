from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id with the OWASP minimum: m=19 MiB, t=2, p=1.

    Keeps the algorithm name ``argon2`` so hashes stay compatible with Django's own hasher;
    parameters are encoded in each hash and upgraded at login when they differ.
    """

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
