"""Sending one email to one person: rendered in their language inside the request or task that
decides to send it, written to the outbox (`OutboundEmail`) in that same transaction, and
delivered by a Celery task after the commit (never inside the request). Campaign mail to
millions goes through `notifications` instead.

Nothing secret goes through the broker: the task gets only the outbox row's id and reads the
message from the database; once sent, the bodies (with their reset, confirmation or invitation
links) are blanked. A message the broker loses, or cannot take (Redis down), only delays the
email: `outbound_emails_sweep` (celery beat) hands rows left unsent to the broker again. A row
is claimed before it is sent, so a redelivered message does not send it twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation
from kombu.exceptions import OperationalError

from .models import OutboundEmail
from .queue import task_enqueue

EMAIL_DELIVER_TASK = "posti_accounts.tasks.email_deliver"

logger = logging.getLogger(__name__)

SUBJECT_MAX = 998  # RFC 5322 line limit
SWEEP_BATCH = 1000

_batch = threading.local()


def email_render(*, template_prefix: str, context: dict, language: str) -> tuple[str, str, str]:
    """Render `<prefix>_subject.txt`, `<prefix>_message.txt` and, if present,
    `<prefix>_message.html` in `language`. Returns (subject, text, html)."""
    with translation.override(language or "fi"):
        subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", context).split())
        text = render_to_string(f"{template_prefix}_message.txt", context)
        try:
            html = render_to_string(f"{template_prefix}_message.html", context)
        except TemplateDoesNotExist:
            html = ""
    return subject, text, html


def email_send(
    *, to: str, template_prefix: str, context: dict, language: str = "fi"
) -> OutboundEmail:
    subject, text, html = email_render(
        template_prefix=template_prefix, context=context, language=language
    )
    return email_send_rendered(to=to, subject=subject, text=text, html=html)


def email_send_rendered(*, to: str, subject: str, text: str, html: str = "") -> OutboundEmail:
    """Write the email to the outbox in the current transaction and hand its id to the broker
    once that commits. Inside `email_batch()` the row is written when the batch ends."""
    email = OutboundEmail(to=to, subject=subject[:SUBJECT_MAX], text=text, html=html)
    pending = getattr(_batch, "emails", None)
    if pending is not None:
        pending.append(email)
        return email
    email.save()
    _enqueue_on_commit([email.pk])
    return email


@contextmanager
def email_batch() -> Iterator[None]:
    """Emails sent inside are written with one INSERT when the block ends (bulk services keep
    a bounded number of queries), still in the caller's transaction. Nested blocks join the
    outermost one."""
    if getattr(_batch, "emails", None) is not None:
        yield
        return
    _batch.emails = []
    try:
        yield
        emails = _batch.emails
    finally:
        _batch.emails = None
    if emails:
        created = OutboundEmail.objects.bulk_create(emails)
        _enqueue_on_commit([email.pk for email in created])


def _enqueue_on_commit(ids: list[int]) -> None:
    transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(ids: list[int]) -> None:
    """Hand each id to the broker. A broker that is down is logged and left to the sweep: the
    request that sent the email has committed and must not fail because of it."""
    for email_id in ids:
        try:
            task_enqueue(EMAIL_DELIVER_TASK, email_id)
        except (OperationalError, OSError) as exc:  # broker down (or, eager, SMTP down)
            logger.warning(
                "Outbound email %s not queued (%s); the sweep will retry it",
                email_id,
                type(exc).__name__,
            )


def outbound_email_send(*, email_id: int) -> str:
    """Send one outbox row: claim it (a row another worker is sending, or that is sent, is
    skipped), send, mark it sent and blank its bodies. Returns sent | skipped | failed. A
    transient error (OSError, which includes SMTP errors) puts the row back to pending and is
    raised for the task's retry; after `OUTBOUND_EMAIL_MAX_ATTEMPTS` attempts the row is
    marked failed (and blanked) instead."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOUND_EMAIL_CLAIM_TIMEOUT_SECONDS)
    claimable = Q(status=OutboundEmail.Status.PENDING) | Q(
        status=OutboundEmail.Status.SENDING, claimed_at__lt=stale
    )
    claimed = OutboundEmail.objects.filter(claimable, pk=email_id).update(
        status=OutboundEmail.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return "skipped"
    email = OutboundEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(
        email.subject, email.text, settings.DEFAULT_FROM_EMAIL, [email.to]
    )
    if email.html:
        message.attach_alternative(email.html, "text/html")
    try:
        message.send()
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        if email.attempts >= settings.OUTBOUND_EMAIL_MAX_ATTEMPTS:
            OutboundEmail.objects.filter(pk=email_id).update(
                status=OutboundEmail.Status.FAILED, last_error=error, text="", html=""
            )
            logger.error("Outbound email %s failed for good: %s", email_id, error)
            return "failed"
        OutboundEmail.objects.filter(pk=email_id).update(
            status=OutboundEmail.Status.PENDING, last_error=error
        )
        raise
    OutboundEmail.objects.filter(pk=email_id).update(
        status=OutboundEmail.Status.SENT, sent_at=timezone.now(), text="", html="", last_error=""
    )
    return "sent"


def outbound_emails_sweep() -> int:
    """Periodic: hand rows left unsent to the broker again (pending and last queued more than
    `OUTBOUND_EMAIL_SWEEP_AFTER_SECONDS` ago, or claimed by a worker that died), and delete
    sent and failed rows older than `OUTBOUND_EMAIL_RETENTION_DAYS`. Returns how many rows
    were queued again. Idempotent: the claim makes a duplicate message harmless."""
    now = timezone.now()
    due = Q(
        status=OutboundEmail.Status.PENDING,
        queued_at__lt=now - timedelta(seconds=settings.OUTBOUND_EMAIL_SWEEP_AFTER_SECONDS),
    ) | Q(
        status=OutboundEmail.Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.OUTBOUND_EMAIL_CLAIM_TIMEOUT_SECONDS),
    )
    ids = list(
        OutboundEmail.objects.filter(due)
        .order_by("queued_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if ids:
        OutboundEmail.objects.filter(pk__in=ids).update(queued_at=now)
        _enqueue(ids)
    OutboundEmail.objects.filter(
        status__in=[OutboundEmail.Status.SENT, OutboundEmail.Status.FAILED],
        created_at__lt=now - timedelta(days=settings.OUTBOUND_EMAIL_RETENTION_DAYS),
    ).delete()
    return len(ids)
