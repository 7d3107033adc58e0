"""Changes operator staff make to accounts in the admin: privileges (staff and superuser
status, groups, permissions), activation and clearing a required action. Each writes an
audit event with the old and new values in the same transaction.

Rules (issue 12): only a superuser changes privileges; nobody grants a permission they do not
hold; staff who are not superusers manage only ordinary accounts (not staff or superusers,
their own included), so they can neither raise themselves nor lock out a higher account.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError

from .audit import audit_event_record
from .models import REQUIRED_ACTION_FIELDS, User
from .sessions import user_sessions_end
from .signals import user_deactivation_requested

PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

MSG_ONLY_SUPERUSER = _("Only a superuser can change staff status, groups and permissions.")
MSG_PERMISSION_NOT_HELD = _("You cannot grant a permission you do not have: %(permissions)s")
MSG_STAFF_ACCOUNT = _("Only a superuser can change a staff account.")


def user_manage_allowed(*, actor: User, user: User) -> bool:
    """May `actor` change, deactivate or reset `user`? Superusers may change anyone; other
    staff only accounts that are neither staff nor superuser."""
    return bool(actor.is_superuser) or not (user.is_staff or user.is_superuser)


def _perm_label(perm: Permission) -> str:
    return f"{perm.content_type.app_label}.{perm.codename}"


def _privileges_of(user: User) -> dict:
    return {
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(
            _perm_label(p) for p in user.user_permissions.select_related("content_type")
        ),
    }


def _check_grants(*, actor: User, old: dict, permissions: list[Permission], groups: list[Group]):
    """Every permission newly given, directly or through a new group, must be the actor's."""
    new_perms = [p for p in permissions if _perm_label(p) not in old["user_permissions"]]
    for group in groups:
        if group.name not in old["groups"]:
            new_perms.extend(group.permissions.select_related("content_type"))
    missing = sorted({_perm_label(p) for p in new_perms if not actor.has_perm(_perm_label(p))})
    if missing:
        raise PermissionDenied(MSG_PERMISSION_NOT_HELD % {"permissions": ", ".join(missing)})


@transaction.atomic
def user_privileges_change(
    *,
    user: User,
    actor: User,
    request: HttpRequest | None = None,
    is_staff: bool | None = None,
    is_superuser: bool | None = None,
    groups: Iterable[Group] | None = None,
    user_permissions: Iterable[Permission] | None = None,
) -> list[str]:
    """Set the given privileges (None = leave as is). Returns the names of those changed.

    Raises PermissionDenied unless the actor is an active superuser holding every permission
    granted. Records `user.privileges_changed` with only the changed values, old and new."""
    if not (actor.is_active and actor.is_superuser):
        raise PermissionDenied(MSG_ONLY_SUPERUSER)
    old = _privileges_of(user)
    group_list = list(groups) if groups is not None else None
    perm_list = (
        list(Permission.objects.filter(pk__in=[p.pk for p in user_permissions]))
        if user_permissions is not None
        else None
    )
    _check_grants(actor=actor, old=old, permissions=perm_list or [], groups=group_list or [])
    flags = {"is_staff": is_staff, "is_superuser": is_superuser}
    changed_flags = [f for f, v in flags.items() if v is not None and v != getattr(user, f)]
    for name in changed_flags:
        setattr(user, name, flags[name])
    if changed_flags:
        user.save(update_fields=changed_flags)
    if group_list is not None:
        user.groups.set(group_list)
    if perm_list is not None:
        user.user_permissions.set(perm_list)
    new = _privileges_of(user)
    changed = [name for name in PRIVILEGE_FIELDS if old[name] != new[name]]
    if changed:
        audit_event_record(
            actor=actor,
            action="user.privileges_changed",
            target_user=user,
            request=request,
            details={
                "old": {name: old[name] for name in changed},
                "new": {name: new[name] for name in changed},
            },
        )
    return changed


@transaction.atomic
def user_active_set(
    *, user: User, active: bool, actor: User, request: HttpRequest | None = None
) -> bool:
    """Deactivate or reactivate an account; returns whether it changed. Deactivation ends all
    of the user's sessions. Raises PermissionDenied for a staff account unless the actor is
    a superuser, and ApplicationError when an app above refuses the deactivation
    (`signals.user_deactivation_requested`: the organizations app for the last main user,
    which locks the organization rows until this transaction commits, so the check and the
    update cannot be raced)."""
    if user.is_active == active:
        return False
    if not user_manage_allowed(actor=actor, user=user):
        raise PermissionDenied(MSG_STAFF_ACCOUNT)
    if not active:
        user_deactivation_requested.send(sender=User, user=user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit_event_record(
        actor=actor,
        action="user.reactivated" if active else "user.deactivated",
        target_user=user,
        request=request,
        details={"old": {"is_active": not active}, "new": {"is_active": active}},
    )
    if not active:
        user_sessions_end(
            user=user, actor=actor, request=request, keep_current=False, reason="deactivated"
        )
    return True


@transaction.atomic
def user_required_action_clear(
    *, user: User, action: str, actor: User, request: HttpRequest | None = None
) -> bool:
    """Staff withdraw a required action the user has not done. Returns whether it was set."""
    field = REQUIRED_ACTION_FIELDS.get(action)
    if field is None:
        raise ApplicationError(_("Unknown required action."), code="unknown_action")
    updated = User.objects.filter(pk=user.pk, **{field: True}).update(**{field: False})
    setattr(user, field, False)
    if updated:
        audit_event_record(
            actor=actor,
            action="required_action.cleared",
            target_user=user,
            request=request,
            details={"action": action},
        )
    return bool(updated)
