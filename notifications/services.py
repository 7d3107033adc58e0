"""Writes for campaigns: lifecycle (schedule, start, pause, resume, cancel), set-based
materialization of deliveries, retries, test sends and the action links of the emails.
The sending engine itself is in `sending.py`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.http import HttpRequest
from django.template import Context
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from kernel.tokens import token_hash
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User
from posti_accounts.queue import task_enqueue
from posti_accounts.services import user_email_verified, user_password_set

from . import deliverability, sender_slots, sending
from .defaults import TEMPLATE_VARIABLES, campaign_default_templates
from .models import ActionToken, Campaign, CampaignStartBatch, Delivery
from .selectors import campaign_audience
from .sending import CampaignRenderer, deliveries_reclaim_stale

MSG_NOT_STARTABLE = _("Only a draft or scheduled campaign can be started.")
MSG_NOT_SCHEDULABLE = _("Only a draft campaign can be scheduled.")
MSG_SCHEDULE_REQUIRED = _("Set a start time before scheduling.")
MSG_NOT_PAUSABLE = _("Only a sending campaign can be paused.")
MSG_NOT_RESUMABLE = _("Only a paused campaign can be resumed.")
MSG_NOT_CANCELLABLE = _("A finished campaign cannot be cancelled.")
MSG_NO_SUBJECT = _("Every language needs a subject.")
MSG_TEMPLATE_ERROR = _("The template has an error: %(error)s")
MSG_LINK_INVALID = _("This link is not valid.")
MSG_LINK_EXPIRED = _("This link has expired.")
MSG_LINK_USED = _("This link has already been used.")
MSG_CUTOVER_REQUIRED = _("A merge notice needs a cut-over date.")
MSG_CANCELLED_NO_RETRY = _("A cancelled campaign sends nothing more.")
MSG_TEST_SEND_FAILED = _("The test email could not be sent. Try again later.")

LANGS = ("fi", "sv", "en")
BROKER_ERRORS = (BrokerUnavailable, RedisConnectionError, RedisTimeoutError)
logger = logging.getLogger(__name__)

CAMPAIGN_SEND_TASK = "notifications.tasks.campaign_send"
CAMPAIGN_START_TASK = "notifications.tasks.campaign_start_task"
REQUIRED_ACTIONS_BY_KIND: dict[str, dict[str, bool]] = {
    Campaign.Kind.VERIFY_AND_RENEW: {
        "requires_verify_email": True,
        "requires_update_password": True,
    },
    Campaign.Kind.CHECK_DETAILS: {"requires_check_details": True},
}


def _audit(*, actor: User | None, action: str, campaign: Campaign, request=None, **details) -> None:
    audit_event_record(
        actor=actor,
        action=action,
        request=request,
        details={"campaign": campaign.pk, "campaign_name": campaign.name, **details},
    )


def campaign_templates_validate(*, campaign: Campaign) -> None:
    """Raise ApplicationError if a subject is missing, or a template does not compile or
    fails to render for a sample recipient (so no send, preview or test can fail on it)."""
    from .sending import _template_engine

    sample = Context({name: f"sample {name}" for name in TEMPLATE_VARIABLES}, autoescape=False)
    for lang in LANGS:
        subject, body = campaign.template_for(lang)
        if not subject.strip():
            raise ApplicationError(MSG_NO_SUBJECT, code="no_subject")
        for text in (subject, body):
            try:
                _template_engine().from_string(text).render(sample)
            except Exception as exc:  # staff input: report any error, syntax or rendering
                raise ApplicationError(
                    MSG_TEMPLATE_ERROR % {"error": exc}, code="template_error"
                ) from exc
    if campaign.kind == Campaign.Kind.MERGE_NOTICE and not campaign.cutover_date:
        raise ApplicationError(MSG_CUTOVER_REQUIRED, code="cutover_required")


def campaign_defaults_fill(*, campaign: Campaign) -> None:
    """Fill empty subjects and bodies with the defaults of the campaign's kind."""
    for name, value in campaign_default_templates(campaign.kind).items():
        if not getattr(campaign, name):
            setattr(campaign, name, value)


@transaction.atomic
def campaign_create(
    *, actor: User | None, name: str, kind: str, organizations=(), **fields
) -> Campaign:
    campaign = Campaign(name=name, kind=kind, **fields)
    campaign_save(campaign=campaign, actor=actor, changed_fields=sorted(fields))
    if organizations:
        campaign.audience_organizations.set(organizations)
    return campaign


@transaction.atomic
def campaign_save(
    *, campaign: Campaign, actor: User | None, changed_fields=(), request: HttpRequest | None = None
) -> Campaign:
    """Create (no pk yet) or save a campaign as staff edited it: fills the default templates
    left empty and records who did it. The admin's form and `campaign_create` both come here;
    the audience organizations are set by the caller after this returns."""
    created = campaign.pk is None
    if created:
        campaign.created_by = actor_user(actor)
    campaign_defaults_fill(campaign=campaign)
    campaign.save()
    _audit(
        actor=actor,
        action="campaign.created" if created else "campaign.changed",
        campaign=campaign,
        request=request,
        kind=campaign.kind,
        fields=sorted(changed_fields),
    )
    return campaign


@transaction.atomic
def campaign_schedule(
    *, campaign: Campaign, actor: User | None, at: datetime | None = None
) -> Campaign:
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.DRAFT:
        raise ApplicationError(MSG_NOT_SCHEDULABLE, code="not_schedulable")
    if at is not None:
        campaign.scheduled_at = at
    if campaign.scheduled_at is None:
        raise ApplicationError(MSG_SCHEDULE_REQUIRED, code="schedule_required")
    campaign_templates_validate(campaign=campaign)
    campaign.status = Campaign.Status.SCHEDULED
    campaign.save(update_fields=["status", "scheduled_at"])
    _audit(
        actor=actor,
        action="campaign.scheduled",
        campaign=campaign,
        at=campaign.scheduled_at.isoformat(),
    )
    return campaign


def campaign_materialize(*, campaign: Campaign) -> int:
    """One Delivery per recipient, and the kind's required actions on every recipient, in
    two set-based statements. Running it again adds nobody twice. Returns the number of
    deliveries inserted. (A start uses the batched `campaign_start_batch` instead.)"""
    inserted = campaign_deliveries_insert(campaign=campaign)
    campaign_required_actions_set(campaign=campaign)
    return inserted


def campaign_deliveries_insert(*, campaign: Campaign, audience: QuerySet | None = None) -> int:
    """A single INSERT ... SELECT from the audience query (no Python loop over users),
    skipping users who already have a delivery of this campaign."""
    if audience is None:
        audience = campaign_audience(campaign=campaign)
    select_sql, params = audience.values("pk").order_by().query.sql_with_params()
    table = Delivery._meta.db_table
    verb = "INSERT" if connection.vendor == "postgresql" else "INSERT OR IGNORE"
    # The audience SQL is Django's own (parameterized); only table names are interpolated.
    sql = (
        f"{verb} INTO {table} (campaign_id, user_id, status, attempts, last_error) "  # noqa: S608
        f"SELECT %s, audience.pk, 'pending', 0, '' FROM ({select_sql}) audience"
    )
    if connection.vendor == "postgresql":
        sql += " ON CONFLICT (campaign_id, user_id) DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, *params])
        return cursor.rowcount


def campaign_required_actions_set(*, campaign: Campaign, users: QuerySet | None = None) -> int:
    """verify_and_renew / check_details: one set-based UPDATE of the recipients (of all, or
    of those among `users`) whose actions are not set yet, so their next login asks for the
    actions even if the email is lost. Returns the number of users updated."""
    fields = REQUIRED_ACTIONS_BY_KIND.get(campaign.kind)
    if not fields:
        return 0
    recipients = Delivery.objects.filter(campaign=campaign, user=OuterRef("pk"))
    pending = Q()
    for name in fields:
        pending |= Q(**{name: False})
    if users is None:
        users = get_user_model().objects.all()
    return users.filter(pending, Exists(recipients)).update(**fields)


# --- Starting: a short transition, then batches ---------------------------------------------
#
# Setting required actions on a million recipients in one UPDATE holds every recipient's row
# lock until it commits (tens of seconds), and a login, which updates the user's row, waits
# for it. So a start commits in batches of CAMPAIGN_START_BATCH_SIZE recipients (in user id
# order): each batch inserts its recipients' deliveries, sets their required actions and
# records itself (CampaignStartBatch) in one transaction, then lets the senders in. A crash
# loses at most the batch in flight; the dispatcher resumes after the last recorded one.

START_SLOT = "start"  # the sender-slot key (with a heartbeat) held by the running start


@dataclass
class StartBatchResult:
    deliveries: int = 0
    required_actions: int = 0
    last: bool = False


def _start_batch_size(batch_size: int | None) -> int:
    return max(1, batch_size or settings.CAMPAIGN_START_BATCH_SIZE)


@transaction.atomic
def campaign_start_open(
    *, campaign: Campaign, actor: User | None, now: datetime | None = None
) -> Campaign:
    """The start's first, short transaction: check and mark the campaign sending. The
    recipients are added by `campaign_start_batch`."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise ApplicationError(MSG_NOT_STARTABLE, code="not_startable")
    campaign_templates_validate(campaign=campaign)
    campaign.status = Campaign.Status.SENDING
    campaign.started_at = now or timezone.now()
    campaign.materialized_at = None
    campaign.save(update_fields=["status", "started_at", "materialized_at"])
    CampaignStartBatch.objects.filter(campaign=campaign).delete()  # a start begins afresh
    _audit(actor=actor, action="campaign.started", campaign=campaign)
    return campaign


@transaction.atomic
def campaign_start_batch(*, campaign_id: int, batch_size: int | None = None) -> StartBatchResult:
    """The next batch of a started campaign, in one transaction: the deliveries of the next
    `batch_size` recipients, their required actions, and the batch's record. The campaign row
    is locked, so two runners never take the same batch. A constant number of queries."""
    size = _start_batch_size(batch_size)
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.materialized_at is not None or campaign.status not in (
        Campaign.Status.SENDING,
        Campaign.Status.PAUSED,
    ):
        return StartBatchResult(last=True)  # done already, or cancelled meanwhile
    previous = (
        CampaignStartBatch.objects.filter(campaign=campaign)
        .order_by("-number")
        .values_list("number", "last_user_id")
        .first()
    )
    number, after = previous or (0, 0)
    audience = campaign_audience(campaign=campaign).filter(pk__gt=after)
    bound = list(audience.order_by("pk").values_list("pk", flat=True)[size - 1 : size])
    upto = bound[0] if bound else None  # None: fewer than `size` left, this is the last
    users = get_user_model().objects.filter(pk__gt=after)
    if upto is not None:
        audience = audience.filter(pk__lte=upto)
        users = users.filter(pk__lte=upto)
    result = StartBatchResult(last=upto is None)
    result.deliveries = campaign_deliveries_insert(campaign=campaign, audience=audience)
    result.required_actions = campaign_required_actions_set(campaign=campaign, users=users)
    if result.deliveries or result.required_actions or not result.last:
        CampaignStartBatch.objects.create(
            campaign=campaign,
            number=number + 1,
            last_user_id=upto,
            deliveries=result.deliveries,
            required_actions=result.required_actions,
        )
    if result.last:
        campaign.materialized_at = timezone.now()
        campaign.save(update_fields=["materialized_at"])
        totals = CampaignStartBatch.objects.filter(campaign=campaign).aggregate(
            recipients=Sum("deliveries"), required_actions=Sum("required_actions")
        )
        _audit(
            actor=None,
            action="campaign.recipients_ready",
            campaign=campaign,
            recipients=totals["recipients"] or 0,
            required_actions=totals["required_actions"] or 0,
        )
    if campaign.status == Campaign.Status.SENDING and (result.deliveries or result.last):
        _kick_on_commit(campaign)  # senders may begin on the recipients of this batch
    return result


def campaign_materialize_resume(*, campaign_id: int, batch_size: int | None = None) -> int:
    """Run the remaining batches of a started campaign (after `campaign_start_open`, or
    after a crash). Returns the deliveries inserted; 0 if another runner holds the start
    (its heartbeat is fresh) or nothing is left."""
    if Campaign.objects.filter(pk=campaign_id, materialized_at__isnull=False).exists():
        return 0
    if not sender_slots.sender_slot_claim(campaign_id=campaign_id, slot=START_SLOT):
        return 0
    inserted = 0
    try:
        while True:
            result = campaign_start_batch(campaign_id=campaign_id, batch_size=batch_size)
            inserted += result.deliveries
            if result.last:
                return inserted
            sender_slots.sender_slot_mark(campaign_id=campaign_id, slot=START_SLOT)
    finally:
        sender_slots.sender_slot_release(campaign_id=campaign_id, slot=START_SLOT)


def campaign_start(
    *,
    campaign: Campaign,
    actor: User | None,
    now: datetime | None = None,
    batch_size: int | None = None,
) -> Campaign:
    """Start a draft or scheduled campaign: mark it sending, then add its recipients in
    committed batches (each lets the senders in after its commit). Not one transaction on
    purpose (see above); safe to resume with `campaign_materialize_resume`."""
    campaign = campaign_start_open(campaign=campaign, actor=actor, now=now)
    campaign_materialize_resume(campaign_id=campaign.pk, batch_size=batch_size)
    campaign.refresh_from_db()
    return campaign


@transaction.atomic
def campaign_start_request(*, campaign: Campaign, actor: User | None, request=None) -> Campaign:
    """ "Start now" from the admin: check the texts at once, then let a worker start it.

    Adding 2 million recipients takes tens of seconds, far too long for a web request, so
    the campaign becomes due now and one task starts it after commit (the dispatcher would
    also pick it up on its next tick). A second click or a racing dispatcher is harmless:
    `campaign_start_open` locks the row and only starts it once.
    """
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise ApplicationError(MSG_NOT_STARTABLE, code="not_startable")
    campaign_templates_validate(campaign=campaign)
    campaign.status = Campaign.Status.SCHEDULED
    campaign.scheduled_at = timezone.now()
    campaign.save(update_fields=["status", "scheduled_at"])
    _audit(actor=actor, action="campaign.start_requested", campaign=campaign, request=request)
    actor_id = getattr(actor, "pk", None)
    transaction.on_commit(lambda: _enqueue_or_wait(CAMPAIGN_START_TASK, campaign.pk, actor_id))
    return campaign


def _enqueue_or_wait(name: str, *args) -> None:
    """After commit: hand the task to the broker. With the broker (Redis) down the request
    must not fail: the campaign is due in the database, and the dispatcher starts or kicks it
    once Redis is back."""
    try:
        task_enqueue(name, *args)
    except BROKER_ERRORS as exc:
        logger.warning("%s not queued (%s); the dispatcher will do it", name, type(exc).__name__)


def campaign_start_run(*, campaign_id: int, actor_id: int | None = None) -> bool:
    """What the start task does: start the campaign staff asked to start now. Idempotent:
    if the dispatcher or a second click started it already, it only resumes unfinished
    batches. Returns whether this call started it."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return False
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        campaign_start(campaign=campaign, actor=actor)
    except ApplicationError as exc:
        # Already started by the dispatcher or a second click, or cancelled meanwhile.
        logger.info("campaign %s not started: %s", campaign_id, exc.code)
        campaign_materialize_resume(campaign_id=campaign_id)
        return False
    return True


def _kick_on_commit(campaign: Campaign) -> None:
    transaction.on_commit(lambda: _kick_or_wait(campaign.pk))


def _kick_or_wait(campaign_id: int) -> None:
    try:
        campaign_kick(campaign_id=campaign_id)
    except BROKER_ERRORS as exc:  # Redis down: the dispatcher kicks it when Redis is back
        logger.warning("campaign %s not kicked (%s)", campaign_id, type(exc).__name__)


# --- Orchestration: senders and the dispatcher ------------------------------------------------
def campaign_kick(*, campaign_id: int) -> int:
    """Enqueue a sender for every free slot of the campaign; returns how many."""
    slots = 1 if settings.CELERY_TASK_ALWAYS_EAGER else settings.CAMPAIGN_SEND_CONCURRENCY
    kicked = 0
    for slot in range(slots):
        if sender_slots.sender_slot_claim(campaign_id=campaign_id, slot=slot):
            task_enqueue(CAMPAIGN_SEND_TASK, campaign_id, slot, queue=settings.CAMPAIGN_QUEUE)
            kicked += 1
    return kicked


def campaign_send_run(*, campaign_id: int, slot: int = 0) -> str:
    """What a sender task does: send batches in `slot` for up to CAMPAIGN_TASK_MAX_SECONDS.
    When the time budget is used and work is due, a fresh sender continues in the same slot
    at once (so one message never holds a worker for long); otherwise the slot is freed and
    the dispatcher's next tick kicks the campaign again if it then has due work. Returns
    why the run stopped."""
    try:
        sent, reason = sending.campaign_send_loop(campaign_id=campaign_id, slot=slot)
    except BaseException:
        sender_slots.sender_slot_release(campaign_id=campaign_id, slot=slot)
        raise
    logger.info("campaign %s: sent %s, %s", campaign_id, sent, reason)
    if reason == "budget" and not settings.CELERY_TASK_ALWAYS_EAGER:
        sender_slots.sender_slot_mark(campaign_id=campaign_id, slot=slot)
        task_enqueue(CAMPAIGN_SEND_TASK, campaign_id, slot, queue=settings.CAMPAIGN_QUEUE)
        return reason
    # Idle, stopped, throttled or SMTP down.
    sender_slots.sender_slot_release(campaign_id=campaign_id, slot=slot)
    return reason


def campaigns_dispatch_run(*, now=None) -> dict[str, int]:
    """The periodic dispatcher: start due campaigns, resume starts a crash interrupted, and
    make sure every sending campaign with due work has senders (or is marked done)."""
    now = now or timezone.now()
    started = kicked = 0
    due = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now)
    for campaign in due:
        try:
            campaign_start(campaign=campaign, actor=None, now=now)
            started += 1
        except ApplicationError as exc:
            logger.warning("campaign %s not started: %s", campaign.pk, exc.code)
    unfinished = Campaign.objects.filter(
        status__in=[Campaign.Status.SENDING, Campaign.Status.PAUSED],
        started_at__isnull=False,
        materialized_at__isnull=True,
    ).values_list("pk", flat=True)
    for campaign_id in list(unfinished):
        campaign_materialize_resume(campaign_id=campaign_id)
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.SENDING).values_list(
        "pk", flat=True
    ):
        if sending.campaign_has_due_work(campaign_id=campaign_id, now=now):
            kicked += bool(campaign_kick(campaign_id=campaign_id))
        else:
            sending.campaign_finish_if_complete(campaign_id=campaign_id, now=now)
    return {"started": started, "kicked": kicked}


def _transition(
    *, campaign, actor: User | None, allowed, target, message, code, action, request=None
):
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in allowed:
        raise ApplicationError(message, code=code)
    campaign.status = target
    campaign.save(update_fields=["status"])
    _audit(actor=actor, action=action, campaign=campaign, request=request)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor: User | None, request=None) -> Campaign:
    """Workers notice between batches; rows already claimed finish their batch."""
    return _transition(
        campaign=campaign,
        actor=actor,
        allowed=(Campaign.Status.SENDING, Campaign.Status.SCHEDULED),
        target=Campaign.Status.PAUSED,
        message=MSG_NOT_PAUSABLE,
        code="not_pausable",
        action="campaign.paused",
        request=request,
    )


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor: User | None, request=None) -> Campaign:
    campaign = _transition(
        campaign=campaign,
        actor=actor,
        allowed=(Campaign.Status.PAUSED,),
        target=Campaign.Status.SENDING,
        message=MSG_NOT_RESUMABLE,
        code="not_resumable",
        action="campaign.resumed",
        request=request,
    )
    if campaign.started_at is None:  # paused before it ever started
        campaign.status = Campaign.Status.SCHEDULED
        campaign.save(update_fields=["status"])
    else:
        _kick_on_commit(campaign)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor: User | None, request=None) -> Campaign:
    """Stops the campaign; every row not yet sent becomes `skipped`. Rows of a batch in
    flight finish it; those it puts back in the queue are skipped too (see sending)."""
    campaign = _transition(
        campaign=campaign,
        actor=actor,
        allowed=(
            Campaign.Status.DRAFT,
            Campaign.Status.SCHEDULED,
            Campaign.Status.SENDING,
            Campaign.Status.PAUSED,
        ),
        target=Campaign.Status.CANCELLED,
        message=MSG_NOT_CANCELLABLE,
        code="not_cancellable",
        action="campaign.cancelled",
        request=request,
    )
    # A dead worker's rows would otherwise stay `sending` forever: settle them first
    # (journaled ones were sent), then nothing pending goes out any more.
    deliveries_reclaim_stale(campaign_id=campaign.pk, now=timezone.now())
    Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.SKIPPED
    )
    campaign.finished_at = timezone.now()
    campaign.save(update_fields=["finished_at"])
    return campaign


@transaction.atomic
def campaign_deliveries_retry(
    *, campaign: Campaign, actor: User | None, delivery_ids: list[int] | None = None, request=None
) -> int:
    """Failed deliveries (all, or the given ones) go back to the queue with fresh attempts."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == Campaign.Status.CANCELLED:
        raise ApplicationError(MSG_CANCELLED_NO_RETRY, code="cancelled")
    rows = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED)
    if delivery_ids is not None:
        rows = rows.filter(pk__in=delivery_ids)
    # Staff retrying a row that bounced vouch for its address: the mark comes off.
    bounced_users = list(
        rows.filter(outcome=Delivery.Outcome.BOUNCED).values_list("user_id", flat=True)
    )
    count = rows.update(status=Delivery.Status.PENDING, attempts=0, next_attempt_at=None)
    deliverability.emails_undeliverable_clear_by_staff(
        user_ids=bounced_users, actor=actor, request=request
    )
    if count and campaign.status == Campaign.Status.DONE:
        campaign.status = Campaign.Status.SENDING
        campaign.finished_at = None
        campaign.save(update_fields=["status", "finished_at"])
    _audit(actor=actor, action="campaign.retried", campaign=campaign, request=request, rows=count)
    if count and campaign.status == Campaign.Status.SENDING:
        _kick_on_commit(campaign)
    return count


def campaign_preview(*, campaign: Campaign, language: str, user) -> tuple[str, str]:
    """The email as `user` would get it in `language` (its link leads to the preview page)."""
    campaign_templates_validate(campaign=campaign)
    sample = get_user_model()(
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        preferred_language=language,
    )
    from .sending import organization_names_for, preview_url_for

    try:
        return CampaignRenderer(campaign).render(
            user=sample,
            # A real link, to a page that says it is a preview (a token exists only in the
            # real emails).
            action_url=preview_url_for(campaign=campaign, language=language),
            organization_names=organization_names_for([user.pk]).get(user.pk, ""),
        )
    except Exception as exc:  # staff-written template: show the error, never a 500
        raise ApplicationError(MSG_TEMPLATE_ERROR % {"error": exc}, code="template_error") from exc


def campaign_test_send(*, campaign: Campaign, actor: User, language: str, request=None) -> None:
    """Send the rendered email to the staff member themselves, marked as a test (a logged-in
    staff member always: the address is theirs)."""
    subject, body = campaign_preview(campaign=campaign, language=language, user=actor)
    message = EmailMultiAlternatives(
        f"[TEST] {subject}", body, settings.DEFAULT_FROM_EMAIL, [actor.email]
    )
    try:
        get_connection().send_messages([message])
    except Exception as exc:  # SMTP down or refusing: tell the staff member, not a 500
        logger.warning("campaign %s: test send failed: %s", campaign.pk, type(exc).__name__)
        raise ApplicationError(MSG_TEST_SEND_FAILED, code="test_send_failed") from exc
    _audit(
        actor=actor, action="campaign.test_sent", campaign=campaign, request=request, lang=language
    )


# --- action links ---------------------------------------------------------------------------


def action_token_get(*, token: str) -> ActionToken:
    """The link's token row, or ApplicationError saying why it cannot be used."""
    row = (
        ActionToken.objects.select_related("delivery__campaign", "delivery__user")
        .filter(token_hash=token_hash(token))
        .first()
    )
    user = row.delivery.user if row is not None else None
    if (
        row is None
        or user is None
        or not user.is_active
        or (row.sent_to and row.sent_to != user.email)
    ):
        # An address changed since the email was sent: the link proves nothing about the
        # new one (it may have gone to a mailbox the person no longer controls).
        raise ApplicationError(MSG_LINK_INVALID, code="link_invalid")
    if row.used_at is not None:
        raise ApplicationError(MSG_LINK_USED, code="link_used")
    if row.is_expired:
        raise ApplicationError(MSG_LINK_EXPIRED, code="link_expired")
    return row


@transaction.atomic
def action_link_use(*, token: str, request: HttpRequest | None = None):
    """verify_and_renew: the person proved they read the email. Verifies their address,
    records the completed step and uses up the link. Returns the user."""
    row = action_token_get(token=token)
    locked = ActionToken.objects.select_for_update().get(pk=row.pk)
    if locked.used_at is not None:
        raise ApplicationError(MSG_LINK_USED, code="link_used")
    now = timezone.now()
    locked.used_at = now
    locked.save(update_fields=["used_at"])
    delivery = row.delivery
    delivery.completed_action_at = now
    delivery.save(update_fields=["completed_action_at"])
    user = delivery.user
    if delivery.campaign.kind == Campaign.Kind.VERIFY_AND_RENEW:
        user_email_verified(user=user, email=user.email, request=request)
    audit_event_record(
        actor=None,
        action="campaign.link_used",
        target_user=user,
        request=request,
        details={"campaign": delivery.campaign_id},
    )
    return user


@transaction.atomic
def campaign_link_password_set(*, user, password: str, request: HttpRequest | None = None):
    """The new password chosen after a verify_and_renew link (validated by the form)."""
    user_password_set(user=user, password=password, request=request)
    return user
