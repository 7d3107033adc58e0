"""Reads for campaigns: audiences, progress and the completion funnel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext

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


def campaign_left_out_counts(*, campaign: Campaign) -> dict[str, int]:
    """Of the users the filters select, how many are skipped because they have already done
    it (`skipped`) and how many left out because their address is known not to work
    (`suppressed`); once the campaign has started, only those it was not sent to. One query."""
    users = campaign_audience_filtered(campaign=campaign)
    if campaign.started_at is not None:
        users = users.filter(
            ~Exists(Delivery.objects.filter(campaign_id=campaign.pk, user=OuterRef("pk")))
        )
    done = _done_since(campaign)
    undeliverable = Q(email_undeliverable_at__isnull=False)
    if done is None:
        return {"skipped": 0, "suppressed": users.filter(undeliverable).count()}
    return users.aggregate(
        skipped=Count("pk", filter=done), suppressed=Count("pk", filter=undeliverable & ~done)
    )


def campaign_skipped_count(*, campaign: Campaign) -> int:
    return campaign_left_out_counts(campaign=campaign)["skipped"]


def campaign_suppressed_count(*, campaign: Campaign) -> int:
    return campaign_left_out_counts(campaign=campaign)["suppressed"]


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
        # .all(): the admin prefetches them once for all its counts and descriptions.
        org_ids = [org.pk for org in campaign.audience_organizations.all()]
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
    # What the email provider reported afterwards (tracking webhooks, 5xx at send time).
    delivered: int = 0
    bounced: int = 0
    complained: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def campaign_progress(*, campaign: Campaign, now: datetime | None = None) -> Progress:
    """Counts per status (one query) and the send rate over the campaign so far."""
    counts: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    rows = (
        Delivery.objects.filter(campaign=campaign)
        .values_list("status", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for status, outcome, n in rows:
        counts[status] = counts.get(status, 0) + n
        outcomes[outcome] = outcomes.get(outcome, 0) + n
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
        delivered=outcomes.get(Delivery.Outcome.DELIVERED, 0),
        bounced=outcomes.get(Delivery.Outcome.BOUNCED, 0),
        complained=outcomes.get(Delivery.Outcome.COMPLAINED, 0),
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


def campaign_recipient_sample(*, campaign: Campaign, limit: int = 10) -> list:
    """A few recipients to show on the confirmation page (the first by id)."""
    return list(
        campaign_audience(campaign=campaign)
        .order_by("pk")
        .only("pk", "email", "first_name", "last_name", "preferred_language")[:limit]
    )


def _when(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def campaign_audience_description(*, campaign: Campaign) -> tuple[list[str], list[str]]:
    """The campaign's filters in words, in the active language: (the filters that narrow the
    audience — empty means all active users —, notes on who is left out)."""
    narrowing: list[str] = []
    if campaign.audience_main_users_only:
        narrowing.append(gettext("main users of organizations"))
    if campaign.pk:
        names = sorted(org.name for org in campaign.audience_organizations.all())
        if names:
            shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
            narrowing.append(gettext("members of: %(names)s") % {"names": shown})
    if campaign.audience_eservice is not None:
        narrowing.append(
            gettext("users of the e-service %(name)s") % {"name": campaign.audience_eservice.name}
        )
    if campaign.audience_unverified_email:
        narrowing.append(gettext("whose email address is not verified"))
    if campaign.audience_password_not_changed_since:
        narrowing.append(
            gettext("who have not set a new password since %(date)s")
            % {"date": _when(campaign.audience_password_not_changed_since)}
        )
    if campaign.audience_details_not_confirmed:
        narrowing.append(gettext("who have not confirmed their details"))
    if campaign.audience_language:
        narrowing.append(
            gettext("language: %(language)s")
            % {"language": campaign.get_audience_language_display().lower()}
        )
    if campaign.audience_last_login_before:
        narrowing.append(
            gettext("who last logged in before %(date)s (or never)")
            % {"date": _when(campaign.audience_last_login_before)}
        )
    if campaign.audience_legacy_service is not None:
        narrowing.append(
            gettext("migrated from the legacy service %(name)s")
            % {"name": campaign.audience_legacy_service.name}
        )
    notes = [
        gettext("Staff accounts are included.")
        if campaign.audience_include_staff
        else gettext("Staff accounts are left out.")
    ]
    if campaign.skip_done_since is not None and _done_since(campaign) is not None:
        notes.append(
            gettext("Those who have already done it since %(date)s are skipped.")
            % {"date": _when(campaign.skip_done_since)}
        )
    notes.append(gettext("Addresses known not to work are left out."))
    return narrowing, notes
