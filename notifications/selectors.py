"""Reads for campaigns: audiences, progress and the completion funnel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from organizations.models import Membership
from posti_accounts.models import AuditEvent

from .models import Campaign, Delivery


def legacy_account_model():
    """`migration.LegacyAccount` if the migration app has it yet, else None."""
    try:
        return apps.get_model("migration", "LegacyAccount")
    except LookupError:
        return None


def audience_filters_available() -> dict[str, bool]:
    return {"legacy_service": legacy_account_model() is not None}


def campaign_audience(*, campaign: Campaign) -> QuerySet:
    """The users a campaign goes to: the filtered audience less those who have already done
    what it asks since its `skip_done_since`, and less addresses known not to work.
    `campaign_start` materializes exactly these (and sets required actions only on them)."""
    users = campaign_audience_filtered(campaign=campaign)
    done = _done_since(campaign)
    if done is not None:
        users = users.exclude(done)
    return users.filter(email_undeliverable_at__isnull=True)


def _done_since(campaign: Campaign) -> Q | None:
    """Who has already done what the campaign's kind asks since the date it names."""
    since = campaign.skip_done_since
    if since is None:
        return None
    if campaign.kind == Campaign.Kind.VERIFY_AND_RENEW:
        verified = AuditEvent.objects.filter(
            target_user=OuterRef("pk"), action="email.verified", created_at__gte=since
        )
        return Q(password_changed_at__gte=since) & Q(Exists(verified))
    if campaign.kind == Campaign.Kind.CHECK_DETAILS:
        return Q(details_confirmed_at__gte=since)
    return None


def _without_delivery(users: QuerySet, campaign: Campaign) -> QuerySet:
    if campaign.pk is None:
        return users
    return users.filter(
        ~Exists(Delivery.objects.filter(campaign_id=campaign.pk, user=OuterRef("pk")))
    )


def campaign_skipped_count(*, campaign: Campaign) -> int:
    """Recipients of the filters skipped because they have already done it (and, once the
    campaign has started, were not sent it)."""
    done = _done_since(campaign)
    if done is None:
        return 0
    users = campaign_audience_filtered(campaign=campaign).filter(done)
    return _without_delivery(users, campaign).count()


def campaign_suppressed_count(*, campaign: Campaign) -> int:
    """Recipients of the filters left out because their address is known not to work."""
    users = campaign_audience_filtered(campaign=campaign).filter(
        email_undeliverable_at__isnull=False
    )
    done = _done_since(campaign)
    if done is not None:
        users = users.exclude(done)
    return _without_delivery(users, campaign).count()


def campaign_audience_filtered(*, campaign: Campaign) -> QuerySet:
    """The users the campaign's filters select. Every filter that is set narrows it; filters
    on related rows are EXISTS subqueries, so each user appears once and the SQL can feed an
    INSERT. Staff accounts only when the campaign includes them explicitly."""
    users = get_user_model().objects.filter(is_active=True)
    if not campaign.audience_include_staff:
        users = users.filter(is_staff=False)
    active = Membership.objects.filter(user=OuterRef("pk"), status=Membership.Status.ACTIVE)
    if campaign.audience_main_users_only:
        users = users.filter(Exists(active.filter(role=Membership.Role.MAIN_USER)))
    if campaign.pk:
        org_ids = list(campaign.audience_organizations.values_list("pk", flat=True))
        if org_ids:
            users = users.filter(Exists(active.filter(organization_id__in=org_ids)))
    if campaign.audience_eservice_id:
        users = users.filter(Exists(active.filter(services=campaign.audience_eservice_id)))
    if campaign.audience_unverified_email:
        users = users.filter(
            Exists(
                EmailAddress.objects.filter(
                    user=OuterRef("pk"), email=OuterRef("email"), verified=False
                )
            )
        )
    if campaign.audience_password_not_changed_since:
        users = users.filter(
            Q(password_changed_at__isnull=True)
            | Q(password_changed_at__lt=campaign.audience_password_not_changed_since)
        )
    if campaign.audience_details_not_confirmed:
        users = users.filter(details_confirmed_at__isnull=True)
    if campaign.audience_language:
        users = users.filter(preferred_language=campaign.audience_language)
    if campaign.audience_last_login_before:
        users = users.filter(
            Q(last_login__isnull=True) | Q(last_login__lt=campaign.audience_last_login_before)
        )
    if campaign.audience_legacy_service_id:
        legacy = legacy_account_model()
        if legacy is None:
            return users.none()
        users = users.filter(
            Exists(
                legacy.objects.filter(
                    user=OuterRef("pk"), service_id=campaign.audience_legacy_service_id
                )
            )
        )
    return users


def campaign_recipient_count(*, campaign: Campaign) -> int:
    return campaign_audience(campaign=campaign).count()


@dataclass(frozen=True)
class Progress:
    total: int
    pending: int
    sending: int
    sent: int
    failed: int
    skipped: int
    rate_per_minute: float

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def campaign_progress(*, campaign: Campaign, now: datetime | None = None) -> Progress:
    """Counts per status (one query) and the send rate over the campaign so far."""
    counts = dict(
        Delivery.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rate = 0.0
    started = campaign.started_at
    if started and counts.get(Delivery.Status.SENT):
        end = campaign.finished_at or now or timezone.now()
        minutes = max((end - started).total_seconds() / 60, 1 / 60)
        rate = round(counts[Delivery.Status.SENT] / minutes, 1)
    return Progress(
        total=sum(counts.values()),
        pending=counts.get(Delivery.Status.PENDING, 0),
        sending=counts.get(Delivery.Status.SENDING, 0),
        sent=counts.get(Delivery.Status.SENT, 0),
        failed=counts.get(Delivery.Status.FAILED, 0),
        skipped=counts.get(Delivery.Status.SKIPPED, 0),
        rate_per_minute=rate,
    )


def campaign_funnel(*, campaign: Campaign) -> dict[str, int]:
    """Of the recipients who were sent the email, how many have since confirmed their
    details, verified their email, set a new password. One query."""
    sent = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENT)
    verified = AuditEvent.objects.filter(
        target_user=OuterRef("user_id"),
        action="email.verified",
        created_at__gte=OuterRef("sent_at"),
    )
    return sent.aggregate(
        sent=Count("pk"),
        confirmed_details=Count("pk", filter=Q(user__details_confirmed_at__gte=F("sent_at"))),
        verified_email=Count("pk", filter=Q(Exists(verified))),
        new_password=Count("pk", filter=Q(user__password_changed_at__gte=F("sent_at"))),
    )


def campaign_failed_deliveries(*, campaign: Campaign, limit: int = 100) -> QuerySet:
    return (
        Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED)
        .select_related("user")
        .order_by("-pk")[:limit]
    )
