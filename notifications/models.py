"""Campaigns (phased rollout emails), one Delivery per recipient, and action-link tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    class Kind(models.TextChoices):
        ANNOUNCEMENT = "announcement", _("Announcement")
        CHECK_DETAILS = "check_details", _("Phase 1: check your details")
        MERGE_NOTICE = "merge_notice", _("Phase 2: merge notice")
        VERIFY_AND_RENEW = "verify_and_renew", _("Phase 3: verify email and renew password")
        CUSTOM = "custom", _("Custom")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )

    # Per-language templates (Django template syntax, plain text).
    subject_fi = models.CharField(_("subject (Finnish)"), max_length=250, blank=True)
    subject_sv = models.CharField(_("subject (Swedish)"), max_length=250, blank=True)
    subject_en = models.CharField(_("subject (English)"), max_length=250, blank=True)
    body_fi = models.TextField(_("body (Finnish)"), blank=True)
    body_sv = models.TextField(_("body (Swedish)"), blank=True)
    body_en = models.TextField(_("body (English)"), blank=True)

    # Audience: every filter that is set narrows the audience (AND).
    audience_main_users_only = models.BooleanField(_("main users only"), default=False)
    audience_organizations = models.ManyToManyField(
        "organizations.Organization",
        verbose_name=_("members of these organizations"),
        blank=True,
        related_name="+",
    )
    audience_eservice = models.ForeignKey(
        "organizations.EService",
        verbose_name=_("users of this e-service"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    audience_unverified_email = models.BooleanField(_("unverified email only"), default=False)
    audience_password_not_changed_since = models.DateTimeField(
        _("has not set a new password since"), null=True, blank=True
    )
    audience_details_not_confirmed = models.BooleanField(
        _("has not confirmed details"), default=False
    )
    audience_language = models.CharField(
        _("preferred language"),
        max_length=5,
        blank=True,
        choices=[("fi", _("Finnish")), ("sv", _("Swedish")), ("en", _("English"))],
    )
    audience_last_login_before = models.DateTimeField(_("last login before"), null=True, blank=True)
    audience_legacy_service = models.ForeignKey(
        "organizations.EService",
        verbose_name=_("migrated from this legacy service"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    audience_include_staff = models.BooleanField(
        _("include staff accounts"),
        default=False,
        help_text=_("Staff accounts get no campaign email unless this is ticked."),
    )
    skip_done_since = models.DateTimeField(
        _("skip those who have done it since"),
        null=True,
        blank=True,
        help_text=_(
            "Phase 3: skip people who have verified their address and set a new password "
            "since this time. Phase 1: skip people who have confirmed their details since "
            "this time."
        ),
    )

    scheduled_at = models.DateTimeField(_("start time"), null=True, blank=True)
    throttle_per_minute = models.PositiveIntegerField(
        _("throttle (messages per minute)"),
        default=0,
        help_text=_("Across all workers. 0 means no limit."),
    )
    cutover_date = models.DateField(_("cut-over date"), null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # Set when the start's last batch is done (every recipient has a delivery and their
    # required actions): until then the campaign cannot finish (see CampaignStartBatch).
    materialized_at = models.DateTimeField(_("recipients ready at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def template_for(self, language: str) -> tuple[str, str]:
        lang = language if language in ("fi", "sv", "en") else "fi"
        subject = getattr(self, f"subject_{lang}") or self.subject_fi
        body = getattr(self, f"body_{lang}") or self.body_fi
        return subject, body


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")

    # No separate index on campaign_id: the unique (campaign, user) and (campaign, status)
    # indexes lead with it, and one index less speeds up materializing millions of rows.
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    # No database-level FK constraint to the users table: checking it makes PostgreSQL
    # lock (and so rewrite) every recipient's user row when millions of deliveries are
    # materialized in one statement (~15 s of a 1M-row start). Deleting a user still
    # cascades here through the ORM, and user_id is indexed for that.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="campaign_deliveries",
        db_constraint=False,
    )
    # Columns carry database defaults because materialization inserts with raw SQL.
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=Status.choices,
        default=Status.PENDING,
        db_default=Status.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0, db_default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, db_default="")
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    completed_action_at = models.DateTimeField(_("completed action at"), null=True, blank=True)
    # What the email provider reported afterwards (tracking webhooks), matched by the
    # message id the provider gave at send time (or the Message-ID header we set).
    provider_message_id = models.CharField(
        _("provider message id"), max_length=255, blank=True, db_default=""
    )
    outcome = models.CharField(
        _("delivery outcome"),
        max_length=16,
        choices=Outcome.choices,
        blank=True,
        db_default="",
    )
    outcome_at = models.DateTimeField(_("outcome reported at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="delivery_campaign_user"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="delivery_campaign_status_idx"),
            # Webhook events look deliveries up by the provider's id; most rows have none.
            models.Index(
                fields=["provider_message_id"],
                name="delivery_provider_msgid_idx",
                condition=~models.Q(provider_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.user_id} ({self.status})"

    @property
    def message_id(self) -> str:
        return delivery_message_id(campaign_id=self.campaign_id, delivery_id=self.pk)


def delivery_message_id(*, campaign_id: int, delivery_id: int) -> str:
    """Deterministic, so a resend (if it ever happened) would carry the same Message-ID and
    be recognisable as a duplicate by any receiver."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<campaign-{campaign_id}.delivery-{delivery_id}@{domain}>"


class CampaignStartBatch(models.Model):
    """One committed batch of a campaign's start: the deliveries of the recipients with ids
    up to `last_user_id` (NULL: to the end) inserted and their required actions set, in one
    transaction with this row. The start resumes after the last recorded batch, and the sums
    over the batches are the start's counts, so a crash never counts anyone twice."""

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="start_batches",
        db_index=False,  # the unique (campaign, number) leads with it
    )
    number = models.PositiveIntegerField(_("number"))
    last_user_id = models.BigIntegerField(_("last recipient id"), null=True, blank=True)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=0)
    required_actions = models.PositiveIntegerField(_("required actions set"), default=0)
    done_at = models.DateTimeField(_("done at"), default=timezone.now)

    class Meta:
        verbose_name = _("campaign start batch")
        verbose_name_plural = _("campaign start batches")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "number"], name="campaign_start_batch_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} #{self.number}"


class ActionToken(models.Model):
    """A single-use, expiring link in a campaign email. Only the SHA-256 of the token is
    stored; the token itself exists only in the email."""

    delivery = models.OneToOneField(
        Delivery, on_delete=models.CASCADE, related_name="action_token", verbose_name=_("delivery")
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The address the link was mailed to: if the account's email has changed since, the
    # link proves nothing about the new address and is refused.
    sent_to = models.EmailField(_("sent to"), blank=True, default="", db_default="")
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("action link")
        verbose_name_plural = _("action links")

    def __str__(self) -> str:
        return f"link for delivery {self.delivery_id}"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at
