"""Organizations and memberships: create, role, services, remove, leave, handover."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from kernel.errors import ApplicationError
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User
from posti_accounts.selectors import user_primary_email_verified
from posti_accounts.services import users_unverified_credentials_end

from ..models import EService, Membership, Organization
from ..validators import business_id_normalize
from ._common import (
    MSG_ALREADY_MAIN_USER,
    MSG_ALREADY_MEMBER,
    MSG_BUSINESS_ID_TAKEN,
    MSG_HANDOVER_NOT_MAIN_USER,
    MSG_HANDOVER_TARGET,
    MSG_LAST_MAIN_USER,
    MSG_LAST_MAIN_USER_ACCOUNT,
    MSG_MEMBERSHIP_REMOVED,
    MSG_NOT_OWN_MEMBERSHIP,
    MSG_USER_INACTIVE,
    _is_last_main_user,
    _lock_membership,
    _lock_organization,
    _notify,
    eservices_resolve,
    role_normalize,
)


@transaction.atomic
def organization_create(
    *,
    name: str,
    business_id: str,
    actor: User | None,
    main_user: User | None = None,
    request: HttpRequest | None = None,
) -> Organization:
    name = (name or "").strip()
    try:
        normalized = business_id_normalize(business_id)
    except ValidationError as exc:
        raise ApplicationError(exc.messages[0], code=exc.code or "business_id_invalid") from exc
    if Organization.objects.filter(business_id=normalized).exists():
        raise ApplicationError(MSG_BUSINESS_ID_TAKEN, code="business_id_taken")
    try:
        with transaction.atomic():
            organization = Organization.objects.create(name=name, business_id=normalized)
    except IntegrityError as exc:
        raise ApplicationError(MSG_BUSINESS_ID_TAKEN, code="business_id_taken") from exc
    audit_event_record(
        actor=actor,
        action="organization.created",
        organization=organization,
        request=request,
        details={"name": name, "business_id": normalized},
    )
    if main_user is not None:
        membership_create(
            organization=organization,
            user=main_user,
            role=Membership.Role.MAIN_USER,
            source=Membership.Source.ADMIN,
            actor=actor,
            request=request,
        )
    return organization


@transaction.atomic
def membership_create(
    *,
    organization: Organization,
    user: User,
    role: str = Membership.Role.MEMBER,
    services: Iterable[EService | str] = (),
    source: str = Membership.Source.ADMIN,
    status: str = Membership.Status.ACTIVE,
    actor: User | None,
    request: HttpRequest | None = None,
    notify: bool = True,
    added_by: User | None = None,
) -> Membership:
    """Add `user` to the organization (or bring back a removed membership). Never creates a
    second membership: an active or pending one is refused with `already_member`."""
    role = role_normalize(role)
    service_objs = eservices_resolve(services)
    organization = _lock_organization(organization.pk)
    membership = (
        Membership.objects.select_for_update().filter(organization=organization, user=user).first()
    )
    if membership is not None and membership.status != Membership.Status.REMOVED:
        raise ApplicationError(MSG_ALREADY_MEMBER, code="already_member")
    if added_by is None and getattr(actor, "is_authenticated", False):
        added_by = actor
    if membership is None:
        membership = Membership.objects.create(
            organization=organization,
            user=user,
            role=role,
            status=status,
            source=source,
            added_by=added_by,
        )
    else:
        membership.role, membership.status, membership.source = role, status, source
        membership.added_by = added_by
        membership.created_at = timezone.now()
        membership.save(
            update_fields=["role", "status", "source", "added_by", "created_at", "updated_at"]
        )
    membership.services.set(service_objs)
    audit_event_record(
        actor=actor,
        action="membership.added",
        target_user=user,
        organization=organization,
        request=request,
        details={
            "role": role,
            "status": status,
            "source": source,
            "services": [s.code for s in service_objs],
        },
    )
    if notify and status == Membership.Status.ACTIVE:
        _notify(user=user, name="added", organization=organization, role=role)
    return membership


@transaction.atomic
def membership_role_change(
    *, membership: Membership, role: str, actor: User | None, request: HttpRequest | None = None
) -> Membership:
    role = role_normalize(role)
    organization = _lock_organization(membership.organization_id)
    current = _lock_membership(membership.pk)
    if current.status == Membership.Status.REMOVED:
        raise ApplicationError(MSG_MEMBERSHIP_REMOVED, code="membership_removed")
    if current.role == role:
        return current
    if role != Membership.Role.MAIN_USER and _is_last_main_user(current):
        raise ApplicationError(MSG_LAST_MAIN_USER, code="last_main_user")
    old_role = current.role
    current.role = role
    current.save(update_fields=["role", "updated_at"])
    audit_event_record(
        actor=actor,
        action="membership.role_changed",
        target_user=current.user,
        organization=organization,
        request=request,
        details={"from": old_role, "to": role},
    )
    _notify(user=current.user, name="role_changed", organization=organization, role=role)
    membership.role = role
    return current


@transaction.atomic
def membership_services_set(
    *,
    membership: Membership,
    services: Iterable[EService | str],
    actor: User | None,
    request: HttpRequest | None = None,
) -> list[EService]:
    """Replace the member's e-service access. Returns the new list (sorted by code)."""
    wanted = eservices_resolve(services)
    _lock_organization(membership.organization_id)
    current = _lock_membership(membership.pk)
    if current.status == Membership.Status.REMOVED:
        raise ApplicationError(MSG_MEMBERSHIP_REMOVED, code="membership_removed")
    before = set(current.services.values_list("code", flat=True))
    after = {s.code for s in wanted}
    if before == after:
        return wanted
    current.services.set(wanted)
    Membership.objects.filter(pk=current.pk).update(updated_at=timezone.now())
    audit_event_record(
        actor=actor,
        action="membership.services_changed",
        target_user=current.user,
        organization=current.organization,
        request=request,
        details={"granted": sorted(after - before), "revoked": sorted(before - after)},
    )
    return wanted


def _membership_end(
    *,
    membership: Membership,
    actor: User | None,
    action: str,
    request: HttpRequest | None,
) -> Membership:
    organization = _lock_organization(membership.organization_id)
    current = _lock_membership(membership.pk)
    if current.status == Membership.Status.REMOVED:
        raise ApplicationError(MSG_MEMBERSHIP_REMOVED, code="membership_removed")
    if _is_last_main_user(current):
        raise ApplicationError(MSG_LAST_MAIN_USER, code="last_main_user")
    codes = list(current.services.values_list("code", flat=True))
    current.status = Membership.Status.REMOVED
    current.save(update_fields=["status", "updated_at"])
    current.services.clear()
    audit_event_record(
        actor=actor,
        action=action,
        target_user=current.user,
        organization=organization,
        request=request,
        details={"role": current.role, "services": codes},
    )
    _notify(
        user=current.user, name="removed", organization=organization, left=action.endswith("left")
    )
    membership.status = current.status
    current.organization = organization
    return current


@transaction.atomic
def membership_remove(
    *, membership: Membership, actor: User | None, request: HttpRequest | None = None
) -> Membership:
    """Remove a member (status `removed`, services cleared). The last main user is refused."""
    return _membership_end(
        membership=membership, actor=actor, action="membership.removed", request=request
    )


@transaction.atomic
def membership_leave(
    *, membership: Membership, actor: User, request: HttpRequest | None = None
) -> Membership:
    """The member leaves on their own. The last main user is refused."""
    if membership.user_id != actor.pk:
        raise ApplicationError(MSG_NOT_OWN_MEMBERSHIP, code="not_own_membership")
    return _membership_end(
        membership=membership, actor=actor, action="membership.left", request=request
    )


@transaction.atomic
def membership_handover(
    *,
    membership: Membership,
    actor: User,
    step_down: bool = False,
    request: HttpRequest | None = None,
) -> Membership:
    """Make `membership` a main user; with `step_down` the actor becomes a plain member in the
    same transaction (safe: the organization then still has the new main user)."""
    organization = _lock_organization(membership.organization_id)
    target = _lock_membership(membership.pk)
    actor_membership = (
        Membership.objects.select_for_update().filter(organization=organization, user=actor).first()
    )
    if actor_membership is None or not actor_membership.is_main_user:
        raise ApplicationError(MSG_HANDOVER_NOT_MAIN_USER, code="not_main_user")
    if target.status != Membership.Status.ACTIVE or not target.user.is_active:
        raise ApplicationError(MSG_HANDOVER_TARGET, code="handover_target_inactive")
    if target.role == Membership.Role.MAIN_USER:
        raise ApplicationError(MSG_ALREADY_MAIN_USER, code="already_main_user")
    target.role = Membership.Role.MAIN_USER
    target.save(update_fields=["role", "updated_at"])
    audit_event_record(
        actor=actor,
        action="membership.handover",
        target_user=target.user,
        organization=organization,
        request=request,
        details={"to": Membership.Role.MAIN_USER, "step_down": step_down},
    )
    _notify(user=target.user, name="role_changed", organization=organization, role=target.role)
    if step_down and actor_membership.pk != target.pk:
        actor_membership.role = Membership.Role.MEMBER
        actor_membership.save(update_fields=["role", "updated_at"])
        audit_event_record(
            actor=actor,
            action="membership.role_changed",
            target_user=actor,
            organization=organization,
            request=request,
            details={"from": Membership.Role.MAIN_USER, "to": Membership.Role.MEMBER},
        )
    membership.role = target.role
    return target


@transaction.atomic
def main_user_appoint(
    *,
    organization: Organization,
    user: User,
    actor: User | None,
    request: HttpRequest | None = None,
) -> Membership:
    """Staff appoint a main user (e.g. for an organization created by migration without one):
    an existing membership is promoted and activated, otherwise one is created."""
    if not user.is_active:
        raise ApplicationError(MSG_USER_INACTIVE, code="user_inactive")
    organization = _lock_organization(organization.pk)
    # Invariant 8: the role never flows to a password set before the address was verified.
    if users_unverified_credentials_end(
        user_ids=[user.pk], actor=actor, reason="main_user_appointed"
    ):
        user.refresh_from_db()
    membership = (
        Membership.objects.select_for_update().filter(organization=organization, user=user).first()
    )
    if membership is None or membership.status == Membership.Status.REMOVED:
        return membership_create(
            organization=organization,
            user=user,
            role=Membership.Role.MAIN_USER,
            source=Membership.Source.ADMIN,
            actor=actor,
            request=request,
        )
    if membership.is_main_user:
        raise ApplicationError(MSG_ALREADY_MAIN_USER, code="already_main_user")
    old = {"role": membership.role, "status": membership.status}
    membership.role = Membership.Role.MAIN_USER
    # Access that comes from migrated legacy data waits for a verified email (DESIGN
    # invariant 6): the appointment stands, and verification activates it.
    waits_for_email = (
        membership.status == Membership.Status.PENDING
        and membership.source == Membership.Source.LEGACY
        and not user_primary_email_verified(user=user)
    )
    if not waits_for_email:
        membership.status = Membership.Status.ACTIVE
    membership.save(update_fields=["role", "status", "updated_at"])
    audit_event_record(
        actor=actor,
        action="membership.main_user_appointed",
        target_user=user,
        organization=organization,
        request=request,
        details={"from": old},
    )
    _notify(user=user, name="role_changed", organization=organization, role=membership.role)
    return membership


def user_deactivation_check(*, user: User) -> None:
    """Raise ApplicationError(code="last_main_user") if `user` is the last active main user of
    an active organization. The admin calls it before deactivating or deleting a user; call
    it inside the transaction that deactivates, so the organization locks are held until then.
    """
    org_ids = list(
        Membership.objects.filter(
            user=user,
            role=Membership.Role.MAIN_USER,
            status=Membership.Status.ACTIVE,
            organization__is_active=True,
        ).values_list("organization_id", flat=True)
    )
    if not org_ids:
        return
    with transaction.atomic():
        orgs = list(Organization.objects.select_for_update().filter(pk__in=org_ids).order_by("pk"))
        others = set(
            Membership.objects.filter(
                organization_id__in=org_ids,
                role=Membership.Role.MAIN_USER,
                status=Membership.Status.ACTIVE,
                user__is_active=True,
            )
            .exclude(user=user)
            .values_list("organization_id", flat=True)
        )
        orphaned = [o for o in orgs if o.pk not in others]
    if orphaned:
        names = ", ".join(o.name for o in orphaned[:5])
        raise ApplicationError(
            MSG_LAST_MAIN_USER_ACCOUNT % {"organizations": names},
            code="last_main_user",
            extra={"organization_ids": [o.pk for o in orphaned]},
        )
