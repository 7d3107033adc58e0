"""The sending engine: claim a batch of deliveries, render, send over one SMTP connection,
record the outcome. Called by the Celery tasks in `tasks.py`.

Exactly once per recipient:
- claiming is atomic (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional UPDATE on
  SQLite), so two workers never hold the same row and a `sent` row is never claimed again;
- right after the SMTP server accepts a message the worker writes it to the send journal
  (cache/Redis) before sending the next, and marks the whole batch `sent` in one UPDATE;
- rows of a worker that died stay `sending`; after CAMPAIGN_CLAIM_TIMEOUT_SECONDS they are
  reclaimed: journaled rows become `sent`, the rest `pending` again.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import smtplib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template import Context, Engine
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.http import urlencode

from kernel.tokens import token_hash
from organizations.models import Membership

from . import send_journal, sender_slots, throttle
from .deliverability import deliveries_bounced_at_send
from .models import ActionToken, Campaign, Delivery, delivery_message_id

Clock = Callable[[], datetime]
logger = logging.getLogger(__name__)

LINK_KINDS = (Campaign.Kind.VERIFY_AND_RENEW, Campaign.Kind.CHECK_DETAILS)


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    throttled: bool = False
    connection_failed: bool = False  # SMTP unreachable or dropped: stop, try again later
    stopped: bool = False  # campaign not sending (paused, cancelled, done)
    errors: list[str] = field(default_factory=list)


# --- claiming -------------------------------------------------------------------------------


def deliveries_claim(*, campaign_id: int, limit: int, now: datetime) -> list[tuple[int, int]]:
    """Atomically move up to `limit` due pending rows to `sending`; returns (id, user_id)."""
    # Only the model's own table name is interpolated; every value is a parameter.
    table = Delivery._meta.db_table
    due = "(next_attempt_at IS NULL OR next_attempt_at <= %s)"
    if connection.vendor == "postgresql":
        sql = (
            f"UPDATE {table} SET status = 'sending', claimed_at = %s, attempts = attempts + 1 "  # noqa: S608
            f"WHERE id IN (SELECT id FROM {table} WHERE campaign_id = %s "
            f"AND status = 'pending' AND {due} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"RETURNING id, user_id"
        )
    else:
        # SQLite serializes writers; the repeated status condition makes the UPDATE
        # conditional, so a row is only ever claimed by one statement.
        sql = (
            f"UPDATE {table} SET status = 'sending', claimed_at = %s, attempts = attempts + 1 "  # noqa: S608
            f"WHERE status = 'pending' AND id IN (SELECT id FROM {table} WHERE campaign_id = %s "
            f"AND status = 'pending' AND {due} ORDER BY id LIMIT %s) RETURNING id, user_id"
        )
    # Adapted like the ORM adapts it, so `claimed_at` compares equal in `_record_outcome`.
    at = connection.ops.adapt_datetimefield_value(now)
    params = [at, campaign_id, at, limit]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return sorted(rows)


def deliveries_reclaim_stale(*, campaign_id: int, now: datetime, limit: int = 10_000) -> int:
    """Rows left `sending` by a dead worker: journaled ones are `sent`, others due again."""
    cutoff = now - timedelta(seconds=settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS)
    stale = list(
        Delivery.objects.filter(
            campaign_id=campaign_id, status=Delivery.Status.SENDING, claimed_at__lt=cutoff
        ).values_list("pk", flat=True)[:limit]
    )
    if not stale:
        return 0
    journal = send_journal.journal_sent_among(stale)
    # The UPDATEs repeat the staleness condition: another worker may have reclaimed and
    # claimed some of these rows afresh since they were read above.
    still_stale = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
    with transaction.atomic():
        if journal:
            still_stale.filter(pk__in=list(journal)).update(
                status=Delivery.Status.SENT, sent_at=now, last_error=""
            )
        rest = [pk for pk in stale if pk not in journal]
        base = still_stale.filter(pk__in=rest)
        base.filter(attempts__gte=settings.CAMPAIGN_MAX_ATTEMPTS).update(
            status=Delivery.Status.FAILED, last_error="worker lost"
        )
        base.update(status=Delivery.Status.PENDING, next_attempt_at=None)
    return len(stale)


# --- rendering ------------------------------------------------------------------------------


class _CampaignEngine(Engine):
    # Not Django's default tags (load, include, extends, debug, url...): see template_safe.
    default_builtins: list[str] = []


_engine: Engine | None = None


def _template_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = _CampaignEngine(
            builtins=["notifications.template_safe"], autoescape=False, libraries={}
        )
    return _engine


class CampaignRenderer:
    """Compiles the campaign's templates once per language and renders many recipients."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self._compiled: dict[str, tuple] = {}

    def _templates(self, language: str):
        lang = language if language in ("fi", "sv", "en") else "fi"
        if lang not in self._compiled:
            subject, body = self.campaign.template_for(lang)
            engine = _template_engine()
            self._compiled[lang] = (engine.from_string(subject), engine.from_string(body))
        return lang, self._compiled[lang]

    def render(self, *, user, action_url: str, organization_names: str) -> tuple[str, str]:
        lang, (subject_t, body_t) = self._templates(user.preferred_language)
        with translation.override(lang):
            cutover = (
                formats.date_format(self.campaign.cutover_date, "SHORT_DATE_FORMAT")
                if self.campaign.cutover_date
                else ""
            )
            context = Context(
                {
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "email": user.email,
                    "action_url": action_url,
                    "organization_names": organization_names,
                    "cutover_date": cutover,
                    "site_url": settings.SITE_URL,
                    "help_url": settings.SITE_URL.rstrip("/") + reverse("help"),
                },
                autoescape=False,
            )
            subject = " ".join(subject_t.render(context).split())
            body = body_t.render(context)
        return subject, body


def organization_names_for(user_ids: list[int]) -> dict[int, str]:
    names: dict[int, list[str]] = defaultdict(list)
    rows = (
        Membership.objects.filter(user_id__in=user_ids, status=Membership.Status.ACTIVE)
        .order_by("organization__name")
        .values_list("user_id", "organization__name")
    )
    for user_id, name in rows:
        names[user_id].append(name)
    return {user_id: ", ".join(values) for user_id, values in names.items()}


def action_tokens_issue(*, recipients: dict[int, str], now: datetime) -> dict[int, str]:
    """One fresh single-use token per delivery id of `recipients` (delivery id -> the
    address it is mailed to; one INSERT; a re-issued link replaces the old one). Returns
    the raw tokens, which exist only in the emails."""
    tokens = {pk: secrets.token_urlsafe(32) for pk in recipients}
    expires = now + timedelta(days=settings.CAMPAIGN_LINK_EXPIRY_DAYS)
    ActionToken.objects.bulk_create(
        [
            ActionToken(
                delivery_id=pk,
                token_hash=token_hash(raw),
                expires_at=expires,
                sent_to=recipients[pk],
            )
            for pk, raw in tokens.items()
        ],
        update_conflicts=True,
        unique_fields=["delivery"],
        update_fields=["token_hash", "expires_at", "used_at", "sent_to"],
    )
    return tokens


def action_url_for(*, campaign: Campaign, token: str | None) -> str:
    if token:
        return settings.SITE_URL + reverse("notifications:action", args=[token])
    return settings.SITE_URL + reverse("account_login")


def preview_url_for(*, campaign: Campaign, language: str) -> str:
    query = urlencode({"lang": language, "kind": campaign.kind})
    return settings.SITE_URL + reverse("notifications:preview") + "?" + query


# --- sending --------------------------------------------------------------------------------


def _classify(exc: Exception) -> tuple[bool, bool]:
    """(permanent, connection_broken) for an exception raised while sending one message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes), False
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return False, True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500, exc.smtp_code == 421
    if isinstance(exc, OSError):
        return False, True
    return True, False


def _error_text(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{code} {msg!r}" for code, msg in exc.recipients.values()]
        return ("recipient refused: " + "; ".join(parts))[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


MAX_BACKOFF_SECONDS = 24 * 3600


def _backoff(attempts: int) -> timedelta:
    """Doubles per attempt, capped at a day (and so never overflows for a large limit)."""
    exponent = min(max(attempts - 1, 0), 32)
    seconds = settings.CAMPAIGN_RETRY_BACKOFF_SECONDS * 2**exponent
    return timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


def deliveries_send_batch(
    *,
    campaign_id: int,
    clock: Clock = timezone.now,
    batch_size: int | None = None,
    slot: int | None = None,
) -> BatchResult:
    """Claim, render and send one batch of a sending campaign, then record the outcome. A
    bounded number of queries whatever the batch size (claim, recipients, organizations,
    tokens, outcome)."""
    result = BatchResult()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.SENDING:
        result.stopped = True
        return result
    now = clock()
    # Stop sending this batch well before its claim could be taken for a dead worker's;
    # rows not reached go back to the queue. The SMTP timeout keeps a hung server from
    # holding the batch past that point.
    give_up_at = time.monotonic() + settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS / 2
    claimed = _batch_claim(
        campaign=campaign, want=batch_size or settings.CAMPAIGN_BATCH_SIZE, now=now, result=result
    )
    if not claimed:
        return result
    if slot is not None:
        sender_slots.sender_slot_mark(campaign_id=campaign.pk, slot=slot)
    prepared = _batch_render_prepare(campaign=campaign, claimed=claimed, now=now)
    outcome = _batch_send(
        campaign=campaign, claimed=claimed, prepared=prepared, now=now, give_up_at=give_up_at
    )
    _batch_record(outcome=outcome, claimed_at=now, clock=clock)
    result.connection_failed = outcome.connection_failed
    result.sent = len(outcome.sent)
    result.failed = sum(len(v) for v in outcome.permanent.values())
    result.retried = sum(len(v) for v in outcome.transient.values())
    result.errors = list(outcome.permanent) + list(outcome.transient)
    return result


def _batch_claim(
    *, campaign: Campaign, want: int, now: datetime, result: BatchResult
) -> list[tuple[int, int]]:
    """Step 1, claim: take up to `want` sends from the campaign's throttle budget and claim
    that many due deliveries, as (delivery id, user id). Notes on `result` whether the batch
    was throttled and how many rows it claimed."""
    granted = throttle.throttle_acquire(
        campaign_id=campaign.pk, per_minute=campaign.throttle_per_minute, want=want, now=now
    )
    if granted <= 0:
        result.throttled = True
        return []
    claimed = deliveries_claim(campaign_id=campaign.pk, limit=granted, now=now)
    result.claimed = len(claimed)
    return claimed


@dataclass
class _Prepared:
    """What rendering the batch's messages needs, loaded once for the whole batch."""

    users: dict[int, Any]  # active recipients by user id
    org_names: dict[int, str]
    tokens: dict[int, str]  # action-link tokens by delivery id
    renderer: CampaignRenderer
    plain_url: str


def _batch_render_prepare(
    *, campaign: Campaign, claimed: list[tuple[int, int]], now: datetime
) -> _Prepared:
    """Step 2, render (the batch part): the active recipients, their organization names and,
    for the kinds with an action link, a fresh token per delivery; a query each."""
    user_ids = [user_id for _pk, user_id in claimed]
    users = {
        u.pk: u
        for u in get_user_model()
        .objects.filter(pk__in=user_ids, is_active=True)
        .only(
            "pk", "email", "first_name", "last_name", "preferred_language", "email_undeliverable_at"
        )
    }
    tokens: dict[int, str] = {}
    if campaign.kind in LINK_KINDS:
        tokens = action_tokens_issue(
            recipients={pk: users[u].email for pk, u in claimed if u in users}, now=now
        )
    return _Prepared(
        users=users,
        org_names=organization_names_for(user_ids),
        tokens=tokens,
        renderer=CampaignRenderer(campaign),
        plain_url=action_url_for(campaign=campaign, token=None),
    )


def _message_render(
    *, campaign: Campaign, prepared: _Prepared, pk: int, user: Any
) -> EmailMultiAlternatives:
    """Step 2, render (one message): the delivery's email in its recipient's language, with
    its own Message-ID and the delivery id as metadata for the provider's tracking events."""
    subject, body = prepared.renderer.render(
        user=user,
        action_url=(
            action_url_for(campaign=campaign, token=prepared.tokens[pk])
            if pk in prepared.tokens
            else prepared.plain_url
        ),
        organization_names=prepared.org_names.get(user.pk, ""),
    )
    message = EmailMultiAlternatives(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
        headers={"Message-ID": delivery_message_id(campaign_id=campaign.pk, delivery_id=pk)},
    )
    # Carried back by an email provider's tracking events (anymail; SMTP ignores it).
    message.metadata = {"delivery_id": str(pk)}  # type: ignore[attr-defined]  # anymail reads it
    return message


@dataclass
class _Outcome:
    """What happened to each claimed delivery of a batch (ids), for `_batch_record`."""

    sent: list[int] = field(default_factory=list)
    permanent: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    transient: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    unsent: list[int] = field(default_factory=list)  # never tried: back to the queue
    skipped: list[int] = field(default_factory=list)  # recipient deactivated
    bounced: dict[int, str] = field(default_factory=dict)  # refused at sending: the error
    provider_ids: dict[int, str] = field(default_factory=dict)
    not_working: list[int] = field(default_factory=list)  # address marked not working
    connection_failed: bool = False


def _batch_send(
    *,
    campaign: Campaign,
    claimed: list[tuple[int, int]],
    prepared: _Prepared,
    now: datetime,
    give_up_at: float,
) -> _Outcome:
    """Step 3, send: render and send each claimed delivery over one SMTP connection, journal
    each accepted message before the next, and stop early (the rest unsent) when the time is
    up, the connection breaks or the journal is unreachable."""
    outcome = _Outcome()
    journal = send_journal.SendJournal()
    # One message is up to ~4 SMTP round trips (MAIL, RCPT, DATA, end of data): with this
    # socket timeout even a hung server cannot stretch the last message past the claim.
    timeout = min(settings.EMAIL_TIMEOUT or 60, settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS / 8)
    smtp = get_connection(timeout=timeout)
    try:
        smtp.open()
    except Exception as exc:  # the server is unreachable: nothing of this batch was tried
        outcome.transient[_error_text(exc)].extend(pk for pk, _u in claimed)
        claimed = []
        outcome.connection_failed = True
    for index, (pk, user_id) in enumerate(claimed):
        if time.monotonic() > give_up_at:
            outcome.unsent = [row_pk for row_pk, _u in claimed[index:]]
            break
        user = prepared.users.get(user_id)
        if user is None:  # deactivated (or deleted) since the campaign started
            outcome.skipped.append(pk)
            continue
        if user.email_undeliverable_at is not None:  # found not to work since the start
            outcome.not_working.append(pk)
            continue
        try:
            message = _message_render(campaign=campaign, prepared=prepared, pk=pk, user=user)
            smtp.send_messages([message])
        except Exception as exc:
            if _send_failed(outcome=outcome, pk=pk, exc=exc):  # the connection broke
                outcome.unsent = [row_pk for row_pk, _u in claimed[index + 1 :]]
                outcome.connection_failed = True
                break
            continue
        outcome.sent.append(pk)
        provider_id = getattr(getattr(message, "anymail_status", None), "message_id", None)
        if provider_id:
            outcome.provider_ids[pk] = str(provider_id)[:255]
        try:
            journal.record(delivery_id=pk, when=now)
        except Exception:  # journal unreachable: record what was sent and stop here
            logger.exception("campaign %s: send journal unavailable", campaign.pk)
            outcome.unsent = [row_pk for row_pk, _u in claimed[index + 1 :]]
            break
    with contextlib.suppress(Exception):  # closing a broken connection
        smtp.close()
    try:
        journal.close()
    except Exception:
        logger.exception("campaign %s: send journal unavailable", campaign.pk)
    return outcome


def _send_failed(*, outcome: _Outcome, pk: int, exc: Exception) -> bool:
    """Note a delivery that could not be rendered or sent as failed (permanent) or to retry
    (transient), and a refused recipient as a hard bounce. True if the SMTP connection is
    broken, so the rest of the batch is not tried."""
    is_permanent, broken = _classify(exc)
    (outcome.permanent if is_permanent else outcome.transient)[_error_text(exc)].append(pk)
    if is_permanent and isinstance(exc, smtplib.SMTPRecipientsRefused):
        outcome.bounced[pk] = _error_text(exc)  # a hard bounce: the address does not work
    return broken


def _batch_record(*, outcome: _Outcome, claimed_at: datetime, clock: Clock) -> None:
    """Step 4, record: the rows' new states in one transaction, then the provider's message
    ids, the hard bounces and the rows skipped for a non-working address."""
    _record_outcome(
        sent=outcome.sent,
        permanent=outcome.permanent,
        transient=outcome.transient,
        unsent=outcome.unsent,
        skipped=outcome.skipped,
        claimed_at=claimed_at,
        now=clock(),
    )
    _record_provider_results(
        provider_ids=outcome.provider_ids,
        bounced=outcome.bounced,
        not_working=outcome.not_working,
        claimed_at=claimed_at,
        now=clock(),
    )


def _record_outcome(
    *, sent, permanent, transient, unsent, skipped, claimed_at: datetime, now: datetime
) -> None:
    # Only rows still held by this batch's claim: if they were reclaimed as a dead
    # worker's and claimed again by another worker, that worker owns their outcome.
    sending = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at=claimed_at)
    requeued = [pk for pks in transient.values() for pk in pks] + list(unsent)
    with transaction.atomic():
        if skipped:
            sending.filter(pk__in=skipped).update(
                status=Delivery.Status.SKIPPED, last_error="recipient deactivated"
            )
        if sent:
            sending.filter(pk__in=sent).update(
                status=Delivery.Status.SENT, sent_at=now, last_error="", next_attempt_at=None
            )
        for error, pks in permanent.items():
            sending.filter(pk__in=pks).update(status=Delivery.Status.FAILED, last_error=error)
        for error, pks in transient.items():
            rows = sending.filter(pk__in=pks)
            rows.filter(attempts__gte=settings.CAMPAIGN_MAX_ATTEMPTS).update(
                status=Delivery.Status.FAILED, last_error=error
            )
            # Backoff grows with attempts; rows of one batch share their attempt count
            # except after retries, so this is one UPDATE per distinct count.
            for attempts in set(rows.values_list("attempts", flat=True)):
                rows.filter(attempts=attempts).update(
                    status=Delivery.Status.PENDING,
                    last_error=error,
                    next_attempt_at=now + _backoff(attempts),
                )
        if unsent:  # never tried: back to the queue without counting an attempt
            sending.filter(pk__in=unsent).update(
                status=Delivery.Status.PENDING, attempts=F("attempts") - 1
            )
        if requeued:  # cancelled while this batch was in flight: nothing more goes out
            Delivery.objects.filter(
                pk__in=requeued,
                status=Delivery.Status.PENDING,
                campaign__status=Campaign.Status.CANCELLED,
            ).update(status=Delivery.Status.SKIPPED)
    if sent:
        send_journal.journal_forget(sent)


def _record_provider_results(
    *, provider_ids: dict[int, str], bounced: dict[int, str], not_working, claimed_at, now
):
    """The provider's message ids (to match its tracking events later: one UPDATE for the
    batch), the hard bounces of this batch (addresses marked not working), and the rows
    skipped because their address was already marked."""
    if not_working:
        Delivery.objects.filter(
            pk__in=not_working, status=Delivery.Status.SENDING, claimed_at=claimed_at
        ).update(status=Delivery.Status.SKIPPED, last_error="address not working")
    if provider_ids:
        Delivery.objects.bulk_update(
            [Delivery(pk=pk, provider_message_id=value) for pk, value in provider_ids.items()],
            ["provider_message_id"],
        )
    if bounced:
        deliveries_bounced_at_send(bounced=bounced, now=now)


def campaign_finish_if_complete(*, campaign_id: int, now: datetime) -> bool:
    """Mark a sending campaign done once every recipient has a delivery (its start's last
    batch is done) and no row is pending or in flight."""
    open_rows = Delivery.objects.filter(
        campaign_id=OuterRef("pk"),
        status__in=[Delivery.Status.PENDING, Delivery.Status.SENDING],
    )
    return bool(
        Campaign.objects.filter(
            pk=campaign_id, status=Campaign.Status.SENDING, materialized_at__isnull=False
        )
        .filter(~Exists(open_rows))
        .update(status=Campaign.Status.DONE, finished_at=now)
    )


def campaign_has_due_work(*, campaign_id: int, now: datetime) -> bool:
    cutoff = now - timedelta(seconds=settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS)
    return Delivery.objects.filter(
        Q(status=Delivery.Status.PENDING)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        | Q(status=Delivery.Status.SENDING, claimed_at__lt=cutoff),
        campaign_id=campaign_id,
    ).exists()


def campaign_send_loop(
    *,
    campaign_id: int,
    clock: Clock = timezone.now,
    slot: int | None = None,
    max_seconds: float | None = None,
    max_batches: int | None = None,
) -> tuple[int, str]:
    """Send batches until the campaign has no due work, is paused/cancelled, the throttle
    says wait, or the time budget is used. Returns (sent, reason)."""
    started = timezone.now()
    budget = max_seconds if max_seconds is not None else settings.CAMPAIGN_TASK_MAX_SECONDS
    total = 0
    batches = 0
    while True:
        result = deliveries_send_batch(campaign_id=campaign_id, clock=clock, slot=slot)
        total += result.sent
        batches += 1
        if result.stopped:
            return total, "stopped"
        if result.throttled:
            return total, "throttled"
        if result.connection_failed:  # the dispatcher kicks senders again later
            return total, "smtp_unavailable"
        if not result.claimed:
            if deliveries_reclaim_stale(campaign_id=campaign_id, now=clock()):
                continue
            campaign_finish_if_complete(campaign_id=campaign_id, now=clock())
            return total, "idle"
        if max_batches is not None and batches >= max_batches:
            return total, "budget"
        if (timezone.now() - started).total_seconds() >= budget:
            return total, "budget"
