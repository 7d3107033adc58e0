"""Recording audit events. Every service that changes something calls `audit_event_record`
inside its own transaction, so the event exists exactly when the change does."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest

from kernel.actors import actor_user

from .models import AuditEvent

_SECRET_KEY_RE = re.compile(r"(?i)(password|passwd|token|secret|otp|hash|key|code)")
REDACTED = "***"


def scrub(value: Any) -> Any:
    """Replace any value stored under a secret-sounding key, at any depth."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if _SECRET_KEY_RE.search(str(k)) else scrub(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    from django.conf import settings

    proxies = getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if len(parts) >= proxies:
            return parts[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def audit_event_record(
    *,
    actor,
    action: str,
    target_user=None,
    organization=None,
    request: HttpRequest | None = None,
    details: dict | None = None,
) -> AuditEvent:
    actor_obj = actor_user(actor)
    return AuditEvent.objects.create(
        actor=actor_obj,
        action=action,
        target_user=target_user,
        organization=organization,
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request else ""),
        details=scrub(details or {}),
    )


def audit_events_bulk_record(events: list[AuditEvent]) -> None:
    """For bulk services (imports, campaigns): one INSERT for many events."""
    for event in events:
        event.details = scrub(event.details or {})
    AuditEvent.objects.bulk_create(events, batch_size=1000)
