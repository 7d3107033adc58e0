"""Writes for campaigns: lifecycle (schedule, start, pause, resume, cancel), set-based
materialization of deliveries, retries, test sends and the action links of the emails.
The sending engine itself is in `sending.py`."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.template import Context
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from kernel.tokens import token_hash
from posti_accounts.audit import audit_event_record
from posti_accounts.queue import task_enqueue, task_enqueue_on_commit
from posti_accounts.services import user_email_verified, user_password_set

from . import deliverability, sending, throttle
from .defaults import TEMPLATE_VARIABLES, campaign_default_templates
from .models import ActionToken, Campaign, Delivery
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
logger = logging.getLogger(__name__)

CAMPAIGN_SEND_TASK = "notifications.tasks.campaign_send"
CAMPAIGN_START_TASK = "notifications.tasks.campaign_start_task"
REQUIRED_ACTIONS_BY_KIND = {
    Campaign.Kind.VERIFY_AND_RENEW: {
        "requires_verify_email": True,
        "requires_update_password": True,
    },
    Campaign.Kind.CHECK_DETAILS: {"requires_check_details": True},
}


def _audit(*, actor, action: str, campaign: Campaign, request=None, **details) -> None:
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
def campaign_create(*, actor, name: str, kind: str, organizations=(), **fields) -> Campaign:
    campaign = Campaign(name=name, kind=kind, **fields)
    campaign_save(campaign=campaign, actor=actor, changed_fields=sorted(fields))
    if organizations:
        campaign.audience_organizations.set(organizations)
    return campaign


@transaction.atomic
def campaign_save(
    *, campaign: Campaign, actor, changed_fields=(), request: HttpRequest | None = None
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
def campaign_schedule(*, campaign: Campaign, actor, at: datetime | None = None) -> Campaign:
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
    """One Delivery per recipient, and the kind's required actions on every recipient.
    Running it again adds nobody twice. Returns the number of deliveries inserted."""
    inserted = campaign_deliveries_insert(campaign=campaign)
    campaign_required_actions_set(campaign=campaign)
    return inserted


def campaign_deliveries_insert(*, campaign: Campaign) -> int:
    """A single INSERT ... SELECT from the audience query (no Python loop over users),
    skipping users who already have a delivery of this campaign."""
    audience = campaign_audience(campaign=campaign).values("pk").order_by()
    select_sql, params = audience.query.sql_with_params()
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


def campaign_required_actions_set(*, campaign: Campaign) -> int:
    """verify_and_renew / check_details: one set-based UPDATE of the recipients, so their
    next login asks for the actions even if the email is lost."""
    fields = REQUIRED_ACTIONS_BY_KIND.get(campaign.kind)
    if not fields:
        return 0
    recipients = Delivery.objects.filter(campaign=campaign, user=OuterRef("pk"))
    pending = Q()
    for name in fields:
        pending |= Q(**{name: False})
    return get_user_model().objects.filter(pending, Exists(recipients)).update(**fields)


@transaction.atomic
def campaign_start(*, campaign: Campaign, actor, now: datetime | None = None) -> Campaign:
    """Materialize the deliveries, set required actions and begin sending (after commit)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise ApplicationError(MSG_NOT_STARTABLE, code="not_startable")
    campaign_templates_validate(campaign=campaign)
    inserted = campaign_materialize(campaign=campaign)
    campaign.status = Campaign.Status.SENDING
    campaign.started_at = now or timezone.now()
    campaign.save(update_fields=["status", "started_at"])
    _audit(actor=actor, action="campaign.started", campaign=campaign, recipients=inserted)
    _kick_on_commit(campaign)
    return campaign


@transaction.atomic
def campaign_start_request(*, campaign: Campaign, actor, request=None) -> Campaign:
    """ "Start now" from the admin: check the texts at once, then let a worker materialize.

    Materializing 2 million deliveries and setting required actions takes tens of seconds,
    far too long for a web request, so the campaign becomes due now and a task starts it
    after commit (the dispatcher would also pick it up on its next tick). A second click or a
    racing dispatcher is harmless: `campaign_start` locks the row and only starts it once.
    """
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise ApplicationError(MSG_NOT_STARTABLE, code="not_startable")
    campaign_templates_validate(campaign=campaign)
    campaign.status = Campaign.Status.SCHEDULED
    campaign.scheduled_at = timezone.now()
    campaign.save(update_fields=["status", "scheduled_at"])
    _audit(actor=actor, action="campaign.start_requested", campaign=campaign, request=request)
    task_enqueue_on_commit(CAMPAIGN_START_TASK, campaign.pk, getattr(actor, "pk", None))
    return campaign


def _kick_on_commit(campaign: Campaign) -> None:
    transaction.on_commit(lambda: campaign_kick(campaign_id=campaign.pk))


# --- Orchestration: senders and the dispatcher ------------------------------------------------
def campaign_kick(*, campaign_id: int) -> int:
    """Enqueue a sender for every free slot of the campaign; returns how many."""
    slots = 1 if settings.CELERY_TASK_ALWAYS_EAGER else settings.CAMPAIGN_SEND_CONCURRENCY
    kicked = 0
    for slot in range(slots):
        if throttle.sender_slot_claim(campaign_id=campaign_id, slot=slot):
            task_enqueue(CAMPAIGN_SEND_TASK, campaign_id, slot, queue=settings.CAMPAIGN_QUEUE)
            kicked += 1
    return kicked


def campaigns_dispatch_run(*, now=None) -> dict[str, int]:
    now = now or timezone.now()
    started = kicked = 0
    due = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now)
    for campaign in due:
        try:
            campaign_start(campaign=campaign, actor=None, now=now)
            started += 1
        except ApplicationError as exc:
            logger.warning("campaign %s not started: %s", campaign.pk, exc.code)
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.SENDING).values_list(
        "pk", flat=True
    ):
        if sending.campaign_has_due_work(campaign_id=campaign_id, now=now):
            kicked += bool(campaign_kick(campaign_id=campaign_id))
        else:
            sending.campaign_finish_if_complete(campaign_id=campaign_id, now=now)
    return {"started": started, "kicked": kicked}


def _transition(*, campaign, actor, allowed, target, message, code, action, request=None):
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in allowed:
        raise ApplicationError(message, code=code)
    campaign.status = target
    campaign.save(update_fields=["status"])
    _audit(actor=actor, action=action, campaign=campaign, request=request)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor, request=None) -> Campaign:
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
def campaign_resume(*, campaign: Campaign, actor, request=None) -> Campaign:
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
def campaign_cancel(*, campaign: Campaign, actor, request=None) -> Campaign:
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
    *, campaign: Campaign, actor, delivery_ids: list[int] | None = None, request=None
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


def campaign_test_send(*, campaign: Campaign, actor, language: str, request=None) -> None:
    """Send the rendered email to the staff member themselves, marked as a test."""
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
    if row is None or not user.is_active or (row.sent_to and row.sent_to != user.email):
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
