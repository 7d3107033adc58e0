"""Rollout reminders: a main user (or staff) emails every member who has not yet done the
rollout's steps, with one click.

Throttled twice: a person gets at most one reminder in 24 hours (from any organization), and an
organization sends at most `ROLLOUT_REMINDER_DAILY_QUOTA` reminders in 24 hours; whoever is left
over is reminded on a later click. Both are counted from the audit trail (one
`rollout.reminder_sent` event per person, written in the same transaction as the outbox rows),
under the organization's row lock, so two clicks at once cannot both send.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from posti_accounts.audit import audit_event_record, audit_events_bulk_record, client_ip
from posti_accounts.emails import email_batch, email_send
from posti_accounts.models import AuditEvent, User

from ..models import Organization
from ..rollout_selectors import (
    REMINDER_ACTION,
    rollout_reminder_candidates,
    rollout_reminders_sent_today,
)
from ._common import _lock_organization, _site_url

MSG_REMINDER_QUOTA = _(
    "The organization has already sent the %(quota)d reminders it can send in 24 hours. "
    "Try again later."
)
MSG_REMINDER_NOBODY = _("Everybody who can be reminded now has been reminded in the last 24 hours.")


@dataclass(frozen=True)
class ReminderOutcome:
    sent: int
    left_over: int  # not reminded now because of the organization's daily quota


def _language(user: User) -> str:
    lang = (user.preferred_language or "fi")[:2]
    return lang if lang in {"fi", "sv", "en"} else "fi"


def rollout_reminders_send(
    *, organization: Organization, actor: User, request: HttpRequest | None = None
) -> ReminderOutcome:
    """Email a reminder to every member who is not done and has not been reminded in the last
    24 hours, up to what is left of the organization's daily quota. One audit event per person
    plus one summary event, outbox rows in one INSERT; all in one transaction."""
    quota = settings.ROLLOUT_REMINDER_DAILY_QUOTA
    now = timezone.now()
    with transaction.atomic():
        organization = _lock_organization(organization.pk)
        remaining = quota - rollout_reminders_sent_today(organization=organization, now=now)
        if quota > 0 and remaining <= 0:
            raise ApplicationError(
                MSG_REMINDER_QUOTA % {"quota": quota},
                code="reminder_quota_exceeded",
                extra={"http_status": 429},
            )
        candidates = rollout_reminder_candidates(organization=organization, now=now)
        if quota > 0:
            members = list(candidates[: remaining + 1])
            left_over_probe = len(members) > remaining
            members = members[:remaining]
        else:
            members, left_over_probe = list(candidates), False
        if not members:
            raise ApplicationError(MSG_REMINDER_NOBODY, code="reminder_nobody")
        left_over = candidates.count() - len(members) if left_over_probe else 0
        login_url = _site_url(reverse("account_login"))
        help_url = _site_url(reverse("help"))
        actor_obj = actor_user(actor)
        ip = client_ip(request)
        agent = request.META.get("HTTP_USER_AGENT", "")[:300] if request else ""
        events = []
        with email_batch():
            for membership in members:
                user = membership.user
                email_send(
                    to=user.email,
                    template_prefix="organizations/email/rollout_reminder",
                    context={
                        "user_name": user.display_name,
                        "organization_name": organization.name,
                        "business_id": organization.business_id,
                        "needs_details": not membership.r_details,
                        "needs_email": not membership.r_email,
                        "needs_password": not membership.r_password,
                        "login_url": login_url,
                        "help_url": help_url,
                    },
                    language=_language(user),
                )
                events.append(
                    AuditEvent(
                        actor=actor_obj,
                        action=REMINDER_ACTION,
                        target_user=user,
                        organization=organization,
                        ip_address=ip,
                        user_agent=agent,
                        created_at=now,
                        details={"language": _language(user)},
                    )
                )
        audit_events_bulk_record(events)
        audit_event_record(
            actor=actor,
            action="rollout.reminders_requested",
            organization=organization,
            request=request,
            details={"sent": len(members), "left_over": left_over},
        )
    return ReminderOutcome(sent=len(members), left_over=left_over)
