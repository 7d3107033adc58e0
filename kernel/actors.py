"""Who did something: services take an `actor` that may be a logged-in user, an anonymous
visitor, or None (a task, a management command, the system)."""

from __future__ import annotations

from typing import TypeVar

_Actor = TypeVar("_Actor")


def actor_user(actor: _Actor | None) -> _Actor | None:
    """The actor as a user to store (`created_by`, `invited_by`, an audit event's actor), or
    None when nobody logged in did it (an anonymous visitor, a task, the system)."""
    return actor if getattr(actor, "is_authenticated", False) else None
