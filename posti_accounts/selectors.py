"""Reads about a user's own account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.account.models import EmailAddress
from django.db.models import QuerySet

from .models import AuditEvent, User, UserSession


def user_security_events(*, user: User) -> QuerySet[AuditEvent]:
    """The user's own events, newest first: what happened to their account and who did it."""
    return AuditEvent.objects.filter(target_user=user).select_related("actor", "organization")


def user_primary_email_verified(*, user: User) -> bool:
    return EmailAddress.objects.filter(user=user, email=user.email, verified=True).exists()


def iso_or_none(value) -> str | None:
    return value.isoformat() if value else None


# Sections other apps add to the data export (their memberships, their legacy accounts...).
# Higher apps register from their AppConfig.ready, so this app never imports them.
ExportSection = Callable[[User], Any]
_EXPORT_SECTIONS: dict[str, ExportSection] = {}


def user_export_section_register(*, name: str, section: ExportSection) -> None:
    """Add `name` to every user's data export; `section(user)` returns its JSON-ready value.
    Registering the same name again replaces it (AppConfig.ready may run more than once)."""
    _EXPORT_SECTIONS[name] = section


def user_export_sections() -> dict[str, ExportSection]:
    return dict(_EXPORT_SECTIONS)


def user_export_data(*, user: User) -> dict[str, Any]:
    """Everything the portal holds about the user, as JSON-ready data (GDPR access request).

    Secrets are never included: no password hash, no OTP secrets, no legacy hashes, no tokens.
    """
    data: dict[str, Any] = {
        "account": {
            "uuid": str(user.uuid),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone": user.phone,
            "preferred_language": user.preferred_language,
            "required_actions": user.required_actions,
            "details_confirmed_at": iso_or_none(user.details_confirmed_at),
            "password_changed_at": iso_or_none(user.password_changed_at),
            "date_joined": iso_or_none(user.date_joined),
            "last_login": iso_or_none(user.last_login),
            "is_staff": user.is_staff,
        },
        "email_addresses": [
            {"email": e.email, "primary": e.primary, "verified": e.verified}
            for e in EmailAddress.objects.filter(user=user).order_by("email")
        ],
        "security_events": [
            {
                "time": iso_or_none(e.created_at),
                "action": e.action,
                "actor": e.actor.email if e.actor else None,
                "organization": e.organization.name if e.organization else None,
                "ip_address": e.ip_address,
                "details": e.details,
            }
            for e in user_security_events(user=user)[:1000]
        ],
        "sessions": [
            {
                "ip_address": s.ip_address,
                "user_agent": s.user_agent,
                "created_at": iso_or_none(s.created_at),
                "last_seen_at": iso_or_none(s.last_seen_at),
            }
            for s in UserSession.objects.filter(user=user).order_by("-last_seen_at")
        ],
    }
    for name, section in _EXPORT_SECTIONS.items():
        data[name] = section(user)
    return data
