"""Reads for the main users' "Rollout" page: where each member of the organization stands in the
rollout (details confirmed, email verified, new password set, address not working, shared
mailbox), with counts and filters.

Every figure is a column or an EXISTS subquery on the member's row, so the page is one query for
the counts and one for the page of members, whatever the organization's size.

"Logs in with a shared mailbox" is decided by the generic local-part rule
(`SHARED_MAILBOX_LOCAL_PARTS`, e.g. info@, office@) and by any condition a higher app registers
with `shared_login_condition_register` (organizations cannot import migration, which knows the
legacy shared logins).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from posti_accounts.models import AuditEvent, User

from .models import Membership, Organization
from .selectors import _as_id, organization_get_for_main_user

REMINDER_ACTION = "rollout.reminder_sent"
REMINDER_INTERVAL = timedelta(hours=24)

# Filter value -> label, in the order the page offers them.
ROLLOUT_FILTERS: dict[str, Any] = {
    "not_done": _("Not done yet"),
    "done": _("Done"),
    "details_not_confirmed": _("Details not confirmed"),
    "email_not_verified": _("Email not verified"),
    "password_not_renewed": _("No new password"),
    "undeliverable": _("Address not working"),
    "shared_mailbox": _("Shared mailbox"),
}

# Each returns a Q on Membership that is true for members who log in with a shared login.
_shared_login_conditions: list[Callable[[], Q]] = []


def shared_login_condition_register(condition: Callable[[], Q]) -> None:
    """Let a higher app (e.g. migration, which knows legacy shared logins) add a condition:
    a callable returning a `Q` on `Membership`. Registered once, in the app's `ready()`."""
    if condition not in _shared_login_conditions:
        _shared_login_conditions.append(condition)


def shared_login_condition_unregister(condition: Callable[[], Q]) -> None:
    if condition in _shared_login_conditions:
        _shared_login_conditions.remove(condition)


def _shared_mailbox_q() -> Q:
    q = Q(pk__in=[])
    for local in getattr(settings, "SHARED_MAILBOX_LOCAL_PARTS", []):
        local = local.strip().lower()
        if local:
            q |= Q(user__email__startswith=f"{local}@")
    for condition in _shared_login_conditions:
        q |= condition()
    return q


def _conditions() -> dict[str, Q]:
    verified = EmailAddress.objects.filter(
        user=OuterRef("user_id"), email=OuterRef("user__email"), verified=True
    )
    confirmed = Q(user__details_confirmed_at__isnull=False, user__requires_check_details=False)
    renewed = Q(user__password_changed_at__isnull=False, user__requires_update_password=False)
    working = Q(user__email_undeliverable_at__isnull=True)
    email_ok = Q(Exists(verified))
    done = confirmed & email_ok & renewed & working
    return {
        "done": done,
        "not_done": ~done,
        "details_confirmed": confirmed,
        "details_not_confirmed": ~confirmed,
        "email_verified": email_ok,
        "email_not_verified": ~email_ok,
        "password_renewed": renewed,
        "password_not_renewed": ~renewed,
        "undeliverable": ~working,
        "shared_mailbox": _shared_mailbox_q(),
    }


def _staff_verified(user: User) -> bool:
    """Staff read any organization here only on the terms of the admin: with the
    view-organization permission and, where the admin requires it, a 2FA-verified session."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if not user.has_perm("organizations.view_organization"):
        return False
    if getattr(settings, "ADMIN_REQUIRE_2FA", True):
        is_verified = getattr(user, "is_verified", None)
        return bool(callable(is_verified) and is_verified())
    return True


def organization_get_for_rollout_viewer(*, user: User, organization_id: Any) -> Organization:
    """The organization for its active main users and for verified staff who may view
    organizations; anyone else gets 404."""
    try:
        return organization_get_for_main_user(user=user, organization_id=organization_id)
    except Http404:
        if not _staff_verified(user):
            raise
    try:
        return Organization.objects.get(pk=_as_id(organization_id))
    except Organization.DoesNotExist as exc:
        raise Http404 from exc


def _members(organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(
        organization=organization,
        status__in=[Membership.Status.ACTIVE, Membership.Status.PENDING],
    )


def organization_rollout_counts(*, organization: Organization) -> dict[str, int]:
    """Members in total and in each state, in one query."""
    conditions = _conditions()
    keys = [
        "done",
        "not_done",
        "details_confirmed",
        "email_verified",
        "password_renewed",
        "undeliverable",
        "shared_mailbox",
    ]
    aggregates = {key: Count("pk", filter=conditions[key]) for key in keys}
    return _members(organization).aggregate(total=Count("pk"), **aggregates)


def organization_rollout_members(
    *, organization: Organization, status: str = "", search: str = ""
) -> QuerySet[Membership]:
    """Members with their rollout state annotated (`r_details`, `r_email`, `r_password`,
    `r_undeliverable`, `r_shared`, `r_done`); `status` is one of ROLLOUT_FILTERS or empty."""
    conditions = _conditions()
    qs = _members(organization)
    status = (status or "").replace("\x00", "")
    if status in ROLLOUT_FILTERS:
        qs = qs.filter(conditions[status])
    search = (search or "").replace("\x00", "").strip()
    if search:
        q = Q(user__email__icontains=search.lower())
        for word in search.split()[:4]:
            q |= Q(user__first_name__icontains=word) | Q(user__last_name__icontains=word)
        qs = qs.filter(q)
    return _annotated(qs, conditions).order_by(
        "user__last_name", "user__first_name", "user__email", "pk"
    )


def _flag(q: Q) -> ExpressionWrapper:
    return ExpressionWrapper(q, output_field=BooleanField())


class RolloutFlags(TypedDict):
    """The per-member flags `_annotated` adds to a membership row."""

    r_details: bool
    r_email: bool
    r_password: bool
    r_undeliverable: bool
    r_shared: bool
    r_done: bool


if TYPE_CHECKING:  # the alias exists for the type checker only (annotations are strings)
    from django_stubs_ext import WithAnnotations

    RolloutMember = WithAnnotations[Membership, RolloutFlags]


def _annotated(qs: QuerySet[Membership], conditions: dict[str, Q]) -> QuerySet[RolloutMember]:
    return qs.select_related("user").annotate(
        r_details=_flag(conditions["details_confirmed"]),
        r_email=_flag(conditions["email_verified"]),
        r_password=_flag(conditions["password_renewed"]),
        r_undeliverable=_flag(conditions["undeliverable"]),
        r_shared=_flag(conditions["shared_mailbox"]),
        r_done=_flag(conditions["done"]),
    )


def rollout_reminder_candidates(
    *, organization: Organization, now: datetime | None = None
) -> QuerySet[RolloutMember]:
    """Members who are not done, can be emailed (active account, working address) and have not
    been reminded (by any organization) in the last 24 hours."""
    now = now or timezone.now()
    recent = AuditEvent.objects.filter(
        action=REMINDER_ACTION,
        target_user=OuterRef("user_id"),
        created_at__gt=now - REMINDER_INTERVAL,
    )
    conditions = _conditions()
    qs = (
        _members(organization)
        .filter(conditions["not_done"], user__is_active=True, user__email_undeliverable_at=None)
        .exclude(Exists(recent))
    )
    return _annotated(qs, conditions).order_by("pk")


def rollout_reminders_sent_today(*, organization: Organization, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return AuditEvent.objects.filter(
        organization=organization,
        action=REMINDER_ACTION,
        created_at__gt=now - REMINDER_INTERVAL,
    ).count()


__all__ = [
    "REMINDER_ACTION",
    "ROLLOUT_FILTERS",
    "organization_get_for_rollout_viewer",
    "organization_rollout_counts",
    "organization_rollout_members",
    "rollout_reminder_candidates",
    "rollout_reminders_sent_today",
    "shared_login_condition_register",
]


def organization_appoint_candidates(
    *, organization: Organization, limit: int = 50
) -> list[Membership]:
    """Who staff could appoint as the organization's main user: its active members with an
    active account (verified email first, then by name). One query."""
    verified = EmailAddress.objects.filter(
        user=OuterRef("user_id"), email=OuterRef("user__email"), verified=True
    )
    return list(
        Membership.objects.filter(
            organization=organization,
            status=Membership.Status.ACTIVE,
            user__is_active=True,
        )
        .exclude(role=Membership.Role.MAIN_USER)
        .select_related("user")
        .annotate(r_email=Exists(verified))
        .order_by("-r_email", "user__last_name", "user__first_name", "user__email", "pk")[:limit]
    )
