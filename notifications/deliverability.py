"""Writes for email deliverability: an address is marked not working after a hard bounce or
a complaint (from the provider's tracking webhooks, or a permanent 5xx reply at send time),
and cleared when its owner changes or re-verifies it.

A marked address gets no more campaign email (`selectors.campaign_audience`), its owner gets
the `check_details` required action, and Omat tiedot and the organization's member list say
so. Each mark and clear is an audit event written in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from posti_accounts.audit import audit_event_record
from posti_accounts.models import UserManager

from .models import Delivery

BOUNCED = "bounced"
COMPLAINED = "complained"
REASON_MAX = 300

# The Message-ID header set at send time (models.delivery_message_id).
_OWN_MESSAGE_ID = re.compile(r"<?campaign-(\d+)\.delivery-(\d+)@[^>]*>?")


@transaction.atomic
def email_undeliverable_mark(
    *, email: str, kind: str, reason: str, at: datetime | None = None, source: str = ""
) -> bool:
    """Mark the account whose address is `email` as not reachable there. Idempotent: an
    address already marked stays as first marked (no second audit event). Returns whether
    an account was marked now."""
    email = UserManager.normalize_email(email)
    if not email:
        return False
    users = get_user_model().objects.select_for_update()
    user = users.filter(email=email, email_undeliverable_at__isnull=True).first()
    if user is None:
        return False
    text = f"{kind}: {reason}".strip().rstrip(":")[:REASON_MAX]
    user.email_undeliverable_at = at or timezone.now()
    user.email_undeliverable_reason = text
    user.requires_check_details = True
    user.save(
        update_fields=[
            "email_undeliverable_at",
            "email_undeliverable_reason",
            "requires_check_details",
        ]
    )
    audit_event_record(
        actor=None,
        action="email.undeliverable_marked",
        target_user=user,
        details={"email": email, "kind": kind, "reason": text, "source": source},
    )
    return True


@transaction.atomic
def email_undeliverable_clear(*, user, request=None) -> bool:
    """The owner proved the (new or same) address works: clear the mark."""
    updated = (
        get_user_model()
        .objects.filter(pk=user.pk, email_undeliverable_at__isnull=False)
        .update(email_undeliverable_at=None, email_undeliverable_reason="")
    )
    if not updated:
        return False
    user.email_undeliverable_at = None
    user.email_undeliverable_reason = ""
    audit_event_record(
        actor=user,
        action="email.undeliverable_cleared",
        target_user=user,
        request=request,
        details={"email": user.email},
    )
    return True


def emails_undeliverable_clear_by_staff(*, user_ids, actor, request=None) -> int:
    """Staff retry deliveries that bounced: their addresses are taken as working again."""
    if not user_ids:
        return 0
    marked = list(
        get_user_model().objects.filter(pk__in=user_ids, email_undeliverable_at__isnull=False)
    )
    get_user_model().objects.filter(pk__in=[u.pk for u in marked]).update(
        email_undeliverable_at=None, email_undeliverable_reason=""
    )
    for user in marked:
        audit_event_record(
            actor=actor,
            action="email.undeliverable_cleared",
            target_user=user,
            request=request,
            details={"email": user.email, "by": "campaign retry"},
        )
    return len(marked)


def _delivery_for(*, message_id: str | None, metadata: dict | None) -> Delivery | None:
    if message_id:
        found = Delivery.objects.filter(provider_message_id=message_id).first()
        if found is not None:
            return found
        own = _OWN_MESSAGE_ID.fullmatch(message_id.strip())
        if own:
            return Delivery.objects.filter(pk=int(own[2]), campaign_id=int(own[1])).first()
    delivery_id = str((metadata or {}).get("delivery_id", ""))
    if delivery_id.isdigit():
        return Delivery.objects.filter(pk=int(delivery_id)).first()
    return None


# Later news never hides worse news: a bounce after "delivered" is kept, not the reverse.
_RANK = {"": 0, Delivery.Outcome.DELIVERED: 1, Delivery.Outcome.BOUNCED: 2}
_RANK[Delivery.Outcome.COMPLAINED] = 3


def delivery_outcome_record(
    *, message_id: str | None, metadata: dict | None, outcome: str, at: datetime | None = None
) -> Delivery | None:
    """Record what the provider reported for a campaign email (if it is one of ours)."""
    delivery = _delivery_for(message_id=message_id, metadata=metadata)
    if delivery is None:
        return None
    lower = [value for value, rank in _RANK.items() if rank < _RANK[outcome]]
    Delivery.objects.filter(pk=delivery.pk, outcome__in=lower).update(
        outcome=outcome, outcome_at=at or timezone.now()
    )
    return delivery


@dataclass(frozen=True)
class TrackingVerdict:
    outcome: str | None  # Delivery.Outcome value, or None (nothing to record)
    mark: str | None  # BOUNCED / COMPLAINED: the address is not to be mailed any more


def tracking_verdict(*, event_type: str, reject_reason: str | None, esp_event) -> TrackingVerdict:
    """What an anymail tracking event means here. Hard bounces, rejections of a bad or
    suppressed address, and complaints mark the address; soft bounces and deferrals do not."""
    if event_type == "delivered":
        return TrackingVerdict(Delivery.Outcome.DELIVERED, None)
    if event_type == "complained":
        return TrackingVerdict(Delivery.Outcome.COMPLAINED, COMPLAINED)
    if event_type == "bounced":
        # Postmark reports soft bounces as "bounced" too; its Type tells them apart.
        soft = isinstance(esp_event, dict) and esp_event.get("Type") == "SoftBounce"
        if soft or reject_reason not in (None, "bounced", "invalid"):
            return TrackingVerdict(None, None)  # may still arrive: not a verdict yet
        return TrackingVerdict(Delivery.Outcome.BOUNCED, BOUNCED)
    if event_type == "rejected" and reject_reason in ("bounced", "invalid"):
        return TrackingVerdict(Delivery.Outcome.BOUNCED, BOUNCED)
    if event_type == "rejected" and reject_reason == "spam":
        return TrackingVerdict(Delivery.Outcome.COMPLAINED, COMPLAINED)
    return TrackingVerdict(None, None)


@transaction.atomic
def tracking_event_record(*, event, esp_name: str) -> TrackingVerdict:
    """One anymail tracking event: the delivery's outcome, and the address marked."""
    verdict = tracking_verdict(
        event_type=str(event.event_type or ""),
        reject_reason=str(event.reject_reason) if event.reject_reason else None,
        esp_event=event.esp_event,
    )
    if verdict.outcome:
        delivery_outcome_record(
            message_id=event.message_id,
            metadata=event.metadata,
            outcome=verdict.outcome,
            at=event.timestamp,
        )
    if verdict.mark and event.recipient:
        email_undeliverable_mark(
            email=event.recipient,
            kind=verdict.mark,
            reason=str(event.description or event.mta_response or "")[:200],
            at=event.timestamp,
            source=esp_name,
        )
    return verdict


def deliveries_bounced_at_send(*, bounced: dict[int, str], now: datetime) -> int:
    """Campaign deliveries whose recipient the SMTP server refused permanently (5xx): each
    delivery id -> the error. The rows get the `bounced` outcome and their addresses are
    marked not working."""
    if not bounced:
        return 0
    rows = Delivery.objects.filter(pk__in=list(bounced)).select_related("user")
    marked = 0
    with transaction.atomic():
        Delivery.objects.filter(Q(pk__in=list(bounced)), ~Q(outcome=COMPLAINED)).update(
            outcome=Delivery.Outcome.BOUNCED, outcome_at=now
        )
        for row in rows:
            marked += email_undeliverable_mark(
                email=row.user.email,
                kind=BOUNCED,
                reason=bounced[row.pk],
                at=now,
                source="smtp",
            )
    return marked
