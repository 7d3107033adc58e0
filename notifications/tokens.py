"""Action-link tokens: only their SHA-256 is stored."""

from __future__ import annotations

import hashlib


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()
