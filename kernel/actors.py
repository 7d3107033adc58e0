"""Who did something: services take an `actor` that may be a logged-in user, an anonymous
visitor, or None (a task, a management command, the system)."""

from __future__ import annotations

from typing import Any


def actor_user(actor: Any) -> Any | None:
    """The actor as a user to store (`created_by`, `invited_by`, an audit event's actor), or
    None when nobody logged in did it."""
    return actor if getattr(actor, "is_authenticated", False) else None
