"""Reads about a user's own account."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.apps import apps
from django.db.models import QuerySet

from .models import AuditEvent, User, UserSession


def user_security_events(*, user: User) -> QuerySet[AuditEvent]:
    """The user's own events, newest first: what happened to their account and who did it."""
    return AuditEvent.objects.filter(target_user=user).select_related("actor", "organization")


def user_primary_email_verified(*, user: User) -> bool:
    return EmailAddress.objects.filter(user=user, email=user.email, verified=True).exists()


def _iso(value) -> str | None:
    return value.isoformat() if value else None


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
            "details_confirmed_at": _iso(user.details_confirmed_at),
            "password_changed_at": _iso(user.password_changed_at),
            "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
            "is_staff": user.is_staff,
        },
        "email_addresses": [
            {"email": e.email, "primary": e.primary, "verified": e.verified}
            for e in EmailAddress.objects.filter(user=user).order_by("email")
        ],
        "memberships": [],
        "security_events": [
            {
                "time": _iso(e.created_at),
                "action": e.action,
                "actor": e.actor.email if e.actor else None,
                "organization": e.organization.name if e.organization else None,
                "ip_address": e.ip_address,
                "details": e.details,
            }
            for e in user_security_events(user=user)[:1000]
        ],
    }
    membership_model = apps.get_model("organizations", "Membership")
    for m in (
        membership_model.objects.filter(user=user)
        .select_related("organization")
        .prefetch_related("services")
        .order_by("organization__name")
    ):
        data["memberships"].append(
            {
                "organization": m.organization.name,
                "business_id": m.organization.business_id,
                "role": m.role,
                "status": m.status,
                "services": sorted(s.code for s in m.services.all()),
                "since": _iso(m.created_at),
            }
        )
    data.update(_optional_exports(user))
    return data


def _optional_exports(user: User) -> dict[str, Any]:
    """Sessions, and the old service usernames merged into the account (never their hashes).
    The migration app is reached through the registry so this app does not import it."""
    legacy_model = apps.get_model("migration", "LegacyAccount")
    return {
        "sessions": [
            {
                "ip_address": s.ip_address,
                "user_agent": s.user_agent,
                "created_at": _iso(s.created_at),
                "last_seen_at": _iso(s.last_seen_at),
            }
            for s in UserSession.objects.filter(user=user).order_by("-last_seen_at")
        ],
        "legacy_accounts": [
            {"service": la.service.code, "username": la.username, "state": la.state}
            for la in legacy_model.objects.filter(user=user).select_related("service")
        ],
    }
