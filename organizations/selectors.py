"""Reads for organizations. Permission-checked fetchers (`<noun>_get_for_<actor>`) raise Http404
for anything the actor may not see, so a foreign id and a missing id look the same."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from kernel.tokens import token_hash
from posti_accounts.models import AuditEvent, User
from posti_accounts.selectors import iso_or_none

from .models import EService, Invitation, Membership, Organization

# --- fetchers ---------------------------------------------------------------------------------

_MAX_ID = 2**63 - 1


def _as_id(value: Any) -> int:
    """A database id from a URL/API value; anything else (junk, out of range) is a 404."""
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
    if not 0 < number <= _MAX_ID:
        raise Http404
    return number


def _active_main_user_q(user: User) -> Q:
    return Q(
        memberships__user=user,
        memberships__role=Membership.Role.MAIN_USER,
        memberships__status=Membership.Status.ACTIVE,
    )


def organization_get_for_main_user(*, user: User, organization_id: Any) -> Organization:
    """The organization, if `user` is an active main user of it (and it is active); else 404."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Http404
    try:
        return Organization.objects.filter(_active_main_user_q(user), is_active=True).get(
            pk=_as_id(organization_id)
        )
    except Organization.DoesNotExist as exc:
        raise Http404 from exc


def membership_get_for_member(*, user: User, organization_id: Any) -> Membership:
    """The user's own active or pending membership in the organization (any role); else 404."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Http404
    try:
        return (
            Membership.objects.select_related("organization")
            .prefetch_related("services")
            .filter(
                status__in=[Membership.Status.ACTIVE, Membership.Status.PENDING],
                organization__is_active=True,
            )
            .get(user=user, organization_id=_as_id(organization_id))
        )
    except Membership.DoesNotExist as exc:
        raise Http404 from exc


def membership_get_for_main_user(
    *, user: User, organization_id: Any, membership_id: Any
) -> Membership:
    """A membership of an organization where `user` is a main user; else 404."""
    organization = organization_get_for_main_user(user=user, organization_id=organization_id)
    try:
        membership = (
            Membership.objects.select_related("user")
            .prefetch_related("services")
            .get(pk=_as_id(membership_id), organization=organization)
        )
    except Membership.DoesNotExist as exc:
        raise Http404 from exc
    membership.organization = organization
    return membership


def invitation_get_for_main_user(
    *, user: User, organization_id: Any, invitation_id: Any
) -> Invitation:
    organization = organization_get_for_main_user(user=user, organization_id=organization_id)
    try:
        invitation = Invitation.objects.prefetch_related("services").get(
            pk=_as_id(invitation_id), organization=organization
        )
    except Invitation.DoesNotExist as exc:
        raise Http404 from exc
    invitation.organization = organization
    return invitation


def invitation_get_by_token(*, token: str) -> Invitation | None:
    if not token or len(token) > 200:
        return None
    return (
        Invitation.objects.select_related("organization")
        .filter(token_hash=token_hash(token))
        .first()
    )


# --- lists ------------------------------------------------------------------------------------


def memberships_export(user: User) -> list[dict]:
    """The user's data export section: every membership, whatever its status. Registered with
    posti_accounts' export in OrganizationsConfig.ready."""
    return [
        {
            "organization": m.organization.name,
            "business_id": m.organization.business_id,
            "role": m.role,
            "status": m.status,
            "services": sorted(s.code for s in m.services.all()),
            "since": iso_or_none(m.created_at),
        }
        for m in Membership.objects.filter(user=user)
        .select_related("organization")
        .prefetch_related("services")
        .order_by("organization__name")
    ]


def memberships_for_user(*, user: User) -> list[Membership]:
    """The user's active and pending memberships with organization and services (2 queries)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        Membership.objects.filter(
            user=user,
            status__in=[Membership.Status.ACTIVE, Membership.Status.PENDING],
            organization__is_active=True,
        )
        .select_related("organization")
        .prefetch_related(Prefetch("services", queryset=EService.objects.order_by("code")))
        .order_by("organization__name", "organization_id")
    )


def organizations_switcher_choices(*, user: User) -> list[tuple[int, str]]:
    """(id, name) of organizations the user is an active member of: one query."""
    return list(
        Membership.objects.filter(
            user=user, status=Membership.Status.ACTIVE, organization__is_active=True
        )
        .order_by("organization__name", "organization_id")
        .values_list("organization_id", "organization__name")[:200]
    )


def organization_members_list(
    *,
    organization: Organization,
    search: str = "",
    role: str = "",
    status: str = "",
    service: str = "",
) -> QuerySet[Membership]:
    """Members for the main-user page. Removed members only when asked for by status.
    Filters are plain text from a query string: NUL characters (which PostgreSQL refuses)
    are dropped here, so no caller can turn them into a 500."""
    search, role, status, service = (
        (value or "").replace("\x00", "") for value in (search, role, status, service)
    )
    qs = Membership.objects.filter(organization=organization)
    # Removed members only when asked for by status.
    qs = qs.filter(status=status) if status else qs.exclude(status=Membership.Status.REMOVED)
    if role:
        qs = qs.filter(role=role)
    if service:
        qs = qs.filter(services__code=service)
    search = (search or "").strip()
    if search:
        q = Q(user__email__icontains=search.lower())
        for word in search.split()[:4]:
            q |= Q(user__first_name__icontains=word) | Q(user__last_name__icontains=word)
        qs = qs.filter(q)
    return (
        qs.select_related("user")
        .prefetch_related(Prefetch("services", queryset=EService.objects.order_by("code")))
        .order_by("user__last_name", "user__first_name", "user__email", "pk")
    )


def organization_invitations_open(*, organization: Organization) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .prefetch_related(Prefetch("services", queryset=EService.objects.order_by("code")))
        .order_by("-created_at", "-pk")
    )


def organization_audit_events(
    *,
    organization: Organization,
    action: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(organization=organization)
    action = (action or "").replace("\x00", "")
    if action:
        qs = qs.filter(action=action)
    tz = timezone.get_current_timezone()
    # A day at either end of the calendar is no bound: converting it to UTC would overflow.
    if date_from and date_from > date.min + timedelta(days=1):
        qs = qs.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to and date_to < date.max - timedelta(days=1):
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
        qs = qs.filter(created_at__lt=end)
    return qs.select_related("actor", "target_user").order_by("-created_at", "-id")


def eservices_all() -> QuerySet[EService]:
    """Every e-service, retired ones too (old audit events name them)."""
    return EService.objects.order_by("code")


def eservices_active() -> QuerySet[EService]:
    return EService.objects.filter(is_active=True).order_by("code")


def organization_main_user_count(*, organization: Organization) -> int:
    return Membership.objects.filter(
        organization=organization,
        role=Membership.Role.MAIN_USER,
        status=Membership.Status.ACTIVE,
        user__is_active=True,
    ).count()


def organizations_without_main_user() -> QuerySet[Organization]:
    """Organizations with no active main user (e.g. created by migration): staff appoint one."""
    return Organization.objects.annotate(
        main_users=Count(
            "memberships",
            filter=Q(
                memberships__role=Membership.Role.MAIN_USER,
                memberships__status=Membership.Status.ACTIVE,
                memberships__user__is_active=True,
            ),
        )
    ).filter(main_users=0)
