"""Legacy password hash formats: recognition, wrapping and verification.

Every scheme is handled by libpass (`passlib`) or `bcrypt`; nothing here parses a hash by
hand beyond choosing the handler. Weak schemes (unsalted or fast) are wrapped as
Argon2id(legacy digest): the digest is the checksum part of the legacy hash, and the salt is
kept beside it so the digest of a candidate password can be recomputed at login.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import lru_cache

import bcrypt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from django.conf import settings
from passlib import hash as ph

UNKNOWN = "unknown"

# scheme -> (passlib handler name, weak?)
_SCHEMES: dict[str, tuple[str, bool]] = {
    "bcrypt": ("bcrypt", False),
    "ldap_salted_sha1": ("ldap_salted_sha1", True),
    "ldap_salted_md5": ("ldap_salted_md5", True),
    "ldap_sha1": ("ldap_sha1", True),
    "ldap_md5": ("ldap_md5", True),
    "hex_md5": ("hex_md5", True),
    "hex_sha1": ("hex_sha1", True),
    "sha512_crypt": ("sha512_crypt", False),
    "django_pbkdf2_sha256": ("django_pbkdf2_sha256", False),
    "django_pbkdf2_sha1": ("django_pbkdf2_sha1", False),
    "django_argon2": ("django_argon2", False),
    "django_bcrypt_sha256": ("django_bcrypt_sha256", False),
    "django_bcrypt": ("django_bcrypt", False),
    "django_salted_md5": ("django_salted_md5", True),
    "django_salted_sha1": ("django_salted_sha1", True),
}
WEAK_SCHEMES = frozenset(s for s, (_, weak) in _SCHEMES.items() if weak)

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
_LDAP = {
    "{SSHA}": "ldap_salted_sha1",
    "{SMD5}": "ldap_salted_md5",
    "{SHA}": "ldap_sha1",
    "{MD5}": "ldap_md5",
}
_DJANGO_PREFIX = {
    "pbkdf2_sha256$": "django_pbkdf2_sha256",
    "pbkdf2_sha1$": "django_pbkdf2_sha1",
    "argon2$": "django_argon2",
    "bcrypt_sha256$": "django_bcrypt_sha256",
    "bcrypt$": "django_bcrypt",
    "md5$": "django_salted_md5",
    "sha1$": "django_salted_sha1",
}


@dataclass(frozen=True)
class Recognized:
    scheme: str
    hash: str  # canonical form of the legacy hash ("" when unknown)


def _handler(scheme: str):
    return getattr(ph, _SCHEMES[scheme][0])


def recognize(value: str) -> Recognized:
    """Identify a legacy hash; returns scheme `unknown` (and no hash) when not recognized."""
    value = (value or "").strip()
    if not value:
        return Recognized("", "")
    scheme = None
    if value[:4] in ("$2a$", "$2b$", "$2y$"):
        scheme = "bcrypt"
    elif value.startswith("$6$"):
        scheme = "sha512_crypt"
    elif value.startswith("{"):
        prefix = value[: value.find("}") + 1].upper()
        scheme = _LDAP.get(prefix)
        if scheme:
            value = prefix + value[len(prefix) :]
    elif _HEX32.match(value):
        scheme, value = "hex_md5", value.lower()
    elif _HEX40.match(value):
        scheme, value = "hex_sha1", value.lower()
    else:
        scheme = next((s for p, s in _DJANGO_PREFIX.items() if value.startswith(p)), None)
    if scheme is None:
        return Recognized(UNKNOWN, "")
    if scheme in ("hex_md5", "hex_sha1"):
        return Recognized(scheme, value)  # the regex above is the whole format
    try:
        if scheme == "bcrypt":
            bcrypt.checkpw(b"", value.encode())  # validates the format
        elif not _handler(scheme).identify(value):
            return Recognized(UNKNOWN, "")
        elif scheme in WEAK_SCHEMES:
            _handler(scheme).from_string(value)
    except (ValueError, TypeError):
        return Recognized(UNKNOWN, "")
    return Recognized(scheme, value)


@lru_cache(maxsize=1)
def _argon2() -> PasswordHasher:
    params = settings.LEGACY_WRAP_ARGON2
    return PasswordHasher(
        time_cost=params["time_cost"],
        memory_cost=params["memory_cost"],
        parallelism=params["parallelism"],
        type=Type.ID,
    )


def _as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _salt_encode(salt) -> str:
    if salt is None:
        return ""
    return "b:" + salt.hex() if isinstance(salt, bytes) else "s:" + salt


def _salt_decode(value: str):
    if not value:
        return None
    kind, raw = value[:2], value[2:]
    return bytes.fromhex(raw) if kind == "b:" else raw


def _digest(scheme: str, password: str, salt) -> bytes:
    handler = _handler(scheme)
    if salt is not None:
        handler = handler.using(salt=salt)
    return _as_bytes(_handler(scheme).from_string(handler.hash(password)).checksum)


def wrap(scheme: str, legacy_hash: str) -> tuple[str, str]:
    """Return (Argon2id of the legacy digest, encoded salt) for a weak legacy hash."""
    parsed = _handler(scheme).from_string(legacy_hash)
    salt = getattr(parsed, "salt", None)
    return _argon2().hash(_as_bytes(parsed.checksum)), _salt_encode(salt)


def verify(password: str, *, scheme: str, stored: str, salt: str, wrapped: bool) -> bool:
    """Whether `password` matches a legacy hash in stored form (wrapped or not)."""
    if not stored or not password or scheme not in _SCHEMES:
        return False
    if wrapped and scheme not in WEAK_SCHEMES:
        return False  # only weak schemes are ever wrapped
    try:
        if wrapped:
            digest = _digest(scheme, password, _salt_decode(salt))
            return _argon2().verify(stored, digest)
        if scheme == "bcrypt":
            return bcrypt.checkpw(password.encode()[:72], stored.encode())
        return bool(_handler(scheme).verify(password, stored))
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError, TypeError):
        return False


@lru_cache(maxsize=1)
def _dummy_wrapped() -> str:
    return _argon2().hash(b"0" * 32)


def verify_dummy(password: str) -> None:
    """Spend the time of one wrapped verification, so an unknown email takes as long."""
    # ValueError: passlib refuses passwords over its size limit (callers cap them earlier).
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
        _argon2().verify(_dummy_wrapped(), _digest("hex_md5", password or "-", None))
