"""Database behaviour that must be the same on every backend the portal runs on.

SQLite's LIKE folds case for ASCII letters only, so on the embedded default database a search
for "MEIKÄLÄINEN" would not find "Meikäläinen", while PostgreSQL (UPPER ... LIKE UPPER) does.
Django's `contains` and `icontains` both compile to LIKE on SQLite; replacing SQLite's `like()`
with a Unicode-aware, case-insensitive version makes every search (member lists, admin search)
behave as it does on PostgreSQL.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=256)
def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if escape is not None and char == escape:
            parts.append(re.escape(next(chars, "")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | re.IGNORECASE)


def sqlite_like(pattern: str | None, value: str | None, escape: str | None = None) -> bool | None:
    """SQLite's like(X, Y[, Z]): `Y LIKE X ESCAPE Z`, case-insensitive for every script."""
    if pattern is None or value is None:
        return None
    regex = _like_regex(pattern.casefold(), escape)
    return regex.fullmatch(str(value).casefold()) is not None


def sqlite_functions_install(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: give SQLite connections the Unicode-aware LIKE."""
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("like", 2, sqlite_like, deterministic=True)
    raw.create_function("like", 3, sqlite_like, deterministic=True)
