"""Secret tokens (invitation links, campaign action links) are stored only as their hash."""

from __future__ import annotations

import hashlib


def token_hash(raw: str | None) -> str:
    """SHA-256 hex of a token: what is stored and looked up, never the token itself."""
    return hashlib.sha256((raw or "").encode()).hexdigest()
