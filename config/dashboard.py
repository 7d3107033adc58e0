"""The staff rollout dashboard: who has confirmed details, verified email and set a new password;
legacy accounts imported, merged, in conflict and retired; each phase's campaigns; over time.

It lives on the top floor because it reads every app. Counting millions of rows on every page
view would not hold at 2 million users, so the figures come from `RolloutSnapshot` rows that a
periodic task (`rollout_snapshot_take`, hourly) writes with a handful of aggregate queries; the
page adds only today's activity, counted from the audit trail by its `created_at` index. The
page is two queries whatever the data size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from migration.models import LegacyAccount
from notifications.models import Campaign, Delivery
from posti_accounts.models import AuditEvent

from .models import RolloutSnapshot

USER_FIGURES = {
    "users": _("Active users"),
    "details_confirmed": _("Confirmed their details"),
    "email_verified": _("Verified their email"),
    "password_renewed": _("New password set"),
    "undeliverable": _("Address not working"),
}
LEGACY_FIGURES = {
    "legacy_imported": _("Imported, not merged yet"),
    "legacy_merged": _("Merged"),
    "legacy_conflict": _("In conflict"),
    "legacy_retired": _("Retired"),
    "legacy_dropped": _("Dropped"),
}
PHASES = {
    Campaign.Kind.CHECK_DETAILS: _("Phase 1: check your details"),
    Campaign.Kind.MERGE_NOTICE: _("Phase 2: merge notice"),
    Campaign.Kind.VERIFY_AND_RENEW: _("Phase 3: verify email and renew password"),
}
PHASE_FIGURES = {
    "recipients": _("Recipients"),
    "sent": _("Sent"),
    "failed": _("Failed"),
    "completed": _("Completed the action"),
}
# Audit actions counted for today's activity.
TODAY_ACTIONS = {
    "details.confirmed": _("Confirmed their details"),
    "email.verified": _("Verified their email"),
    "password.changed": _("New password set"),
}
HISTORY_DAYS = 30


# --- the snapshot (periodic task) ---------------------------------------------------------------


def _user_figures() -> dict[str, int]:
    verified = EmailAddress.objects.filter(
        user=OuterRef("pk"), email=OuterRef("email"), verified=True
    )
    users = get_user_model().objects.filter(is_active=True, is_staff=False)
    return users.aggregate(
        users=Count("pk"),
        details_confirmed=Count(
            "pk", filter=Q(details_confirmed_at__isnull=False, requires_check_details=False)
        ),
        email_verified=Count("pk", filter=Q(Exists(verified))),
        password_renewed=Count(
            "pk", filter=Q(password_changed_at__isnull=False, requires_update_password=False)
        ),
        undeliverable=Count("pk", filter=Q(email_undeliverable_at__isnull=False)),
    )


def _legacy_figures() -> dict[str, int]:
    by_state = dict(LegacyAccount.objects.order_by().values_list("state").annotate(n=Count("pk")))
    return {key: by_state.get(key.removeprefix("legacy_"), 0) for key in LEGACY_FIGURES}


def _phase_figures() -> dict[str, dict[str, int]]:
    rows = (
        Delivery.objects.filter(campaign__kind__in=list(PHASES))
        .order_by()
        .values("campaign__kind")
        .annotate(
            recipients=Count("pk"),
            sent=Count("pk", filter=Q(status=Delivery.Status.SENT)),
            failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
            completed=Count("pk", filter=Q(completed_action_at__isnull=False)),
        )
    )
    found = {row.pop("campaign__kind"): row for row in rows}
    return {str(kind): found.get(kind, dict.fromkeys(PHASE_FIGURES, 0)) for kind in PHASES}


def rollout_snapshot_take(*, now: datetime | None = None) -> RolloutSnapshot:
    """Count today's figures and write (or refresh) today's snapshot row. A few aggregate
    queries over the whole tables: run by the periodic task, never per page view."""
    now = now or timezone.now()
    figures = {**_user_figures(), **_legacy_figures(), "phases": _phase_figures()}
    with transaction.atomic():
        snapshot, _created = RolloutSnapshot.objects.update_or_create(
            day=timezone.localdate(now), defaults={"taken_at": now, "figures": figures}
        )
    return snapshot


# --- the page (reads) ---------------------------------------------------------------------------


@dataclass
class Dashboard:
    days: list[date]
    latest: RolloutSnapshot | None
    history: dict[str, list[int | None]] = field(default_factory=dict)
    today: dict[str, int] = field(default_factory=dict)

    def figure(self, key: str) -> int:
        return int((self.latest.figures if self.latest else {}).get(key, 0))

    def phase(self, kind: str) -> dict[str, int]:
        phases = (self.latest.figures if self.latest else {}).get("phases", {})
        return {key: int(phases.get(kind, {}).get(key, 0)) for key in PHASE_FIGURES}


def rollout_dashboard(*, days: int = HISTORY_DAYS, now: datetime | None = None) -> Dashboard:
    """The snapshots of the last `days` days (one query) and today's activity from the audit
    trail (one query on its `created_at` index)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    snapshots = list(RolloutSnapshot.objects.filter(day__gte=first, day__lte=today).order_by("day"))
    by_day = {s.day: s for s in snapshots}
    day_list = [first + timedelta(days=n) for n in range(days)]
    history: dict[str, list[int | None]] = {}
    for key in [*USER_FIGURES, *LEGACY_FIGURES]:
        history[key] = []
        last: int | None = None  # no figure before the first snapshot
        for day in day_list:
            snapshot = by_day.get(day)
            if snapshot is not None:
                last = int(snapshot.figures.get(key, 0))
            history[key].append(last)  # a missed day repeats the day before
    start = datetime.combine(today, time.min, tzinfo=timezone.get_current_timezone())
    activity = dict(
        AuditEvent.objects.filter(created_at__gte=start, action__in=list(TODAY_ACTIONS))
        .order_by()
        .values_list("action")
        .annotate(n=Count("pk"))
    )
    return Dashboard(
        days=day_list,
        latest=snapshots[-1] if snapshots else None,
        history=history,
        today={action: activity.get(action, 0) for action in TODAY_ACTIONS},
    )
