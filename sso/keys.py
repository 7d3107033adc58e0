"""The RS256 key that signs ID tokens.

Production passes it in `OIDC_RSA_PRIVATE_KEY`. Development generates one on first run into a
git-ignored file and reuses it, so ID tokens stay verifiable across restarts. Tests generate
one in memory. These functions are imported from settings modules: no Django imports here.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048


def rsa_private_key_generate() -> str:
    """A new RSA private key as PKCS#8 PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode()


def rsa_private_key_problem(pem: str) -> str | None:
    """Why `pem` is not a usable RS256 signing key, or None when it is."""
    if not pem or "PRIVATE KEY" not in pem:
        return "not set to a PEM private key"
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return "not a readable unencrypted PEM private key"
    if not isinstance(key, rsa.RSAPrivateKey):
        return "not an RSA key"
    if key.key_size < KEY_BITS:
        return f"shorter than {KEY_BITS} bits"
    return None


def dev_key_load_or_create(path: Path) -> str:
    """Read the development key at `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = rsa_private_key_generate()
    # O_EXCL: two processes starting at once (runserver's reloader) must not both write.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text()
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)
    return pem
