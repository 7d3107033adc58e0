"""The daily invitation quota: invitations cannot be used to mass-mail arbitrary addresses.

An organization sends at most `INVITATION_DAILY_QUOTA` invitation emails (new invitations and
resends) in any 24 hours; 0 turns the quota off. They are counted from the audit trail
(`invitation.created`, `invitation.resent`), which is written in the same transaction as the
invitation, so the count is exact. Staff actors are exempt (they invite on an organization's
behalf, e.g. after a migration), but what they send still fills the organization's day. A
request that would go over is refused whole; the caller holds the organization row lock, so
two concurrent requests cannot both pass.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from posti_accounts.models import AuditEvent, User

from ..models import Organization

MSG_INVITATION_QUOTA = _(
    "The organization can send at most %(quota)d invitations in 24 hours. "
    "%(remaining)d more can be sent now; try the rest later."
)
QUOTA_WINDOW = timedelta(hours=24)
QUOTA_ACTIONS = ("invitation.created", "invitation.resent")


def _exempt(actor: User | None) -> bool:
    user = actor_user(actor)
    return bool(user is not None and user.is_staff and user.is_active)


def _sent(organization_id, now: datetime) -> QuerySet:
    return AuditEvent.objects.filter(
        organization_id=organization_id,
        action__in=QUOTA_ACTIONS,
        created_at__gt=now - QUOTA_WINDOW,
    )


def invitation_quota_check(
    *,
    organization: Organization,
    count: int,
    actor: User | None,
    now: datetime | None = None,
) -> None:
    """Refuse (ApplicationError `invitation_quota_exceeded`) sending `count` more invitation
    emails for `organization` now. Call with the organization row locked: the count is a
    query of its own after the lock (a count inside the locking SELECT would read the
    snapshot from before a concurrent request committed). The error's `extra` holds `quota`,
    `remaining`, `http_status` (429) and, when waiting helps, `retry_after` (seconds until
    enough of the day's invitations have aged out of the window)."""
    quota = settings.INVITATION_DAILY_QUOTA
    if count <= 0 or quota <= 0 or _exempt(actor):
        return
    now = now or timezone.now()
    sent = _sent(organization.pk, now)
    used = sent.count()
    if used + count <= quota:
        return
    remaining = max(quota - used, 0)
    retry_after = None
    if count <= quota:
        # The request fits once this many of the counted emails have left the window.
        must_expire = used + count - quota
        oldest = (
            sent.order_by("created_at")
            .values_list("created_at", flat=True)[must_expire - 1 : must_expire]
            .first()
        )
        if oldest is not None:
            retry_after = max(1, math.ceil((oldest + QUOTA_WINDOW - now).total_seconds()))
    raise ApplicationError(
        MSG_INVITATION_QUOTA % {"quota": quota, "remaining": remaining},
        code="invitation_quota_exceeded",
        extra={
            "quota": quota,
            "remaining": remaining,
            "retry_after": retry_after,
            "http_status": 429,
        },
    )
