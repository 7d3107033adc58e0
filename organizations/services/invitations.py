"""Invitations: single and bulk invite, resend, revoke, accept."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from posti_accounts.audit import audit_event_record, audit_events_bulk_record, client_ip
from posti_accounts.emails import email_batch
from posti_accounts.models import AuditEvent, User, UserManager

from ..invitation_parsing import InviteRow
from ..models import EService, Invitation, Membership, Organization
from ..selectors import invitation_get_by_token
from ._common import (
    BULK_INVITE_MAX_ROWS,
    MSG_ALREADY_INVITED,
    MSG_ALREADY_MEMBER,
    MSG_BULK_CONFLICT,
    MSG_EMAIL_NOT_VERIFIED,
    MSG_INVALID_EMAIL,
    MSG_INVITATION_EXPIRED,
    MSG_INVITATION_INVALID,
    MSG_INVITATION_OTHER_EMAIL,
    MSG_INVITATION_REVOKED,
    MSG_INVITATION_USED,
    MSG_NO_ROWS,
    MSG_ORGANIZATION_INACTIVE,
    MSG_TOO_MANY_ROWS,
    MSG_UNKNOWN_SERVICE,
    _current_language,
    _expiry,
    _lock_organization,
    _new_token,
    _send_invitation_email,
    eservices_resolve,
    role_normalize,
)
from .memberships import membership_create
from .quota import invitation_quota_check


@dataclass(frozen=True)
class InviteOutcome:
    """One address of a bulk invitation. `status` is invited | already_member |
    already_invited | invalid."""

    email: str
    status: str
    message: str = ""
    line: int = 0
    code: str = ""
    role: str = ""
    services: tuple[str, ...] = ()


INVITED, ALREADY_MEMBER, ALREADY_INVITED, INVALID = (
    "invited",
    "already_member",
    "already_invited",
    "invalid",
)


def _invitation_build(
    *, organization: Organization, email: str, role: str, actor: User | None
) -> tuple[Invitation, str]:
    token, hashed = _new_token()
    invitation = Invitation(
        organization=organization,
        email=email,
        role=role,
        token_hash=hashed,
        expires_at=_expiry(),
        invited_by=actor_user(actor),
    )
    return invitation, token


@transaction.atomic
def membership_invite(
    *,
    organization: Organization,
    email: str,
    role: str = Membership.Role.MEMBER,
    services: Iterable[EService | str] = (),
    actor: User | None,
    request: HttpRequest | None = None,
) -> Invitation:
    """Invite one address. Returns the invitation; the plain token is set on the returned
    object as `invitation.token` (for the email and tests only: it is never stored)."""
    report, invitations = _invitations_create(
        organization=organization,
        rows=[InviteRow(email=email, role=role, services=())],
        services_override=eservices_resolve(services),
        actor=actor,
        request=request,
    )
    outcome = report[0]
    if outcome.status != INVITED:
        raise ApplicationError(outcome.message, code=outcome.code or outcome.status)
    return invitations[0]


@transaction.atomic
def invitations_bulk_create(
    *,
    organization: Organization,
    rows: Sequence[InviteRow],
    actor: User | None,
    request: HttpRequest | None = None,
) -> list[InviteOutcome]:
    """Invite up to 1,000 addresses at once. Every row is reported back (invited, already a
    member, already invited, invalid). All-or-nothing: if the write fails nothing is kept and
    no email is sent (emails go out only after commit). A bounded number of queries."""
    if not rows:
        raise ApplicationError(MSG_NO_ROWS, code="no_rows")
    if len(rows) > BULK_INVITE_MAX_ROWS:
        raise ApplicationError(
            MSG_TOO_MANY_ROWS % {"max": BULK_INVITE_MAX_ROWS}, code="too_many_rows"
        )
    report, _invitations = _invitations_create(
        organization=organization,
        rows=rows,
        services_override=None,
        actor=actor,
        request=request,
    )
    return report


@dataclass
class _InviteContext:
    """What the rows are checked against, loaded once for the whole batch."""

    now: datetime
    services_by_code: dict[str, EService]
    members: set[str]
    open_invites: dict[str, Invitation]
    languages: dict[str, str]


@dataclass
class _InvitePlan:
    """The rows' outcomes and the invitations to write."""

    report: list[InviteOutcome]
    to_create: list[tuple[Invitation, str, list[EService]]]
    expired_to_close: list[int]


def _invite_context_load(
    *, organization: Organization, rows: Sequence[InviteRow]
) -> _InviteContext:
    """Active e-services named by the rows, who is a member already, the open invitations and
    the known people's languages: four queries, whatever the number of rows."""
    # PostgreSQL refuses NUL in text parameters; such rows are reported invalid later.
    emails = {e for e in (UserManager.normalize_email(r.email) for r in rows) if "\x00" not in e}
    all_codes = {c.strip() for r in rows for c in r.services if c.strip() and "\x00" not in c}
    services_by_code = (
        {s.code: s for s in EService.objects.filter(code__in=all_codes, is_active=True)}
        if all_codes
        else {}
    )
    members = set(
        Membership.objects.filter(organization=organization, user__email__in=emails)
        .exclude(status=Membership.Status.REMOVED)
        .values_list("user__email", flat=True)
    )
    open_invites = {
        inv.email.lower(): inv
        for inv in Invitation.objects.filter(
            organization=organization,
            email__in=emails,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        )
    }
    languages = dict(
        User.objects.filter(email__in=emails).values_list("email", "preferred_language")
    )
    return _InviteContext(timezone.now(), services_by_code, members, open_invites, languages)


def _invite_row_refusal(row: InviteRow, email: str) -> InviteOutcome | str:
    """The row's invalid-input outcome, or its normalized role when the row is valid."""
    try:
        validate_email(email)
        if len(email) > 254:
            raise ValidationError("too long")
    except ValidationError:
        return InviteOutcome(
            row.email.strip(), INVALID, str(MSG_INVALID_EMAIL), row.line, "invalid_email"
        )
    try:
        return role_normalize(row.role)
    except ApplicationError as exc:
        return InviteOutcome(email, INVALID, str(exc.message), row.line, exc.code)


def _invite_rows_plan(
    *,
    organization: Organization,
    rows: Sequence[InviteRow],
    context: _InviteContext,
    services_override: list[EService] | None,
    actor: User | None,
) -> _InvitePlan:
    """Each row's outcome (invalid, already a member, already invited, invited) and the
    invitations to create; an open but expired invitation is replaced by the new one."""
    plan = _InvitePlan([], [], [])
    seen: set[str] = set()
    for row in rows:
        email = UserManager.normalize_email(row.email)
        refusal_or_role = _invite_row_refusal(row, email)
        if isinstance(refusal_or_role, InviteOutcome):
            plan.report.append(refusal_or_role)
            continue
        role = refusal_or_role
        codes = {c.strip() for c in row.services if c.strip()}
        missing = codes - set(context.services_by_code)
        if missing:
            message = str(MSG_UNKNOWN_SERVICE % {"services": ", ".join(sorted(missing))})
            plan.report.append(InviteOutcome(email, INVALID, message, row.line, "unknown_service"))
            continue
        if email in context.members:
            plan.report.append(
                InviteOutcome(email, ALREADY_MEMBER, str(MSG_ALREADY_MEMBER), row.line)
            )
            continue
        existing = context.open_invites.get(email)
        if email in seen or (existing is not None and existing.expires_at > context.now):
            plan.report.append(
                InviteOutcome(email, ALREADY_INVITED, str(MSG_ALREADY_INVITED), row.line)
            )
            continue
        if existing is not None:  # open but expired: replaced by the new one
            plan.expired_to_close.append(existing.pk)
        seen.add(email)
        invitation, token = _invitation_build(
            organization=organization, email=email, role=role, actor=actor
        )
        services = (
            services_override
            if services_override is not None
            else sorted((context.services_by_code[c] for c in codes), key=lambda s: s.code)
        )
        plan.to_create.append((invitation, token, services))
        plan.report.append(
            InviteOutcome(
                email, INVITED, "", row.line, role=role, services=tuple(s.code for s in services)
            )
        )
    return plan


def _invitations_write(*, plan: _InvitePlan, now: datetime) -> list[Invitation]:
    """Close the replaced invitations, insert the new ones and their e-services (bulk)."""
    # No savepoint of its own: every caller runs this inside its transaction.atomic, which the
    # ApplicationError raised here rolls back whole (and the query budget has no room for one:
    # the quota count and the outbox INSERT took it).
    try:
        if plan.expired_to_close:
            Invitation.objects.filter(pk__in=plan.expired_to_close).update(revoked_at=now)
        created = Invitation.objects.bulk_create([i for i, _t, _s in plan.to_create])
        through = Invitation.services.through
        through.objects.bulk_create(
            [
                through(invitation_id=inv.pk, eservice_id=s.pk)
                for inv, (_i, _t, services) in zip(created, plan.to_create, strict=True)
                for s in services
            ]
        )
    except IntegrityError as exc:
        raise ApplicationError(MSG_BULK_CONFLICT, code="conflict") from exc
    return created


def _invitations_audit_and_send(
    *,
    organization: Organization,
    created: list[Invitation],
    plan: _InvitePlan,
    context: _InviteContext,
    actor: User | None,
    request: HttpRequest | None,
) -> None:
    """One audit event per invitation (one INSERT) and the emails (one outbox INSERT), each in
    the invited person's language when they have an account."""
    actor_obj = actor_user(actor)
    ip = client_ip(request)
    audit_events_bulk_record(
        [
            AuditEvent(
                actor=actor_obj,
                action="invitation.created",
                organization=organization,
                ip_address=ip,
                details={
                    "email": inv.email,
                    "role": inv.role,
                    "services": [s.code for s in services],
                    "invitation_id": inv.pk,
                },
                created_at=context.now,
            )
            for inv, (_i, _t, services) in zip(created, plan.to_create, strict=True)
        ]
    )
    fallback_language = _current_language()
    with email_batch():  # one outbox INSERT for all of them
        for inv, (_i, token, _services) in zip(created, plan.to_create, strict=True):
            inv.token = token
            inv.organization = organization
            _send_invitation_email(
                invitation=inv,
                token=token,
                language=context.languages.get(inv.email, fallback_language),
                inviter=actor_obj,
            )


def _invitations_create(
    *,
    organization: Organization,
    rows: Sequence[InviteRow],
    services_override: list[EService] | None,
    actor: User | None,
    request: HttpRequest | None,
) -> tuple[list[InviteOutcome], list[Invitation]]:
    """Invite every valid row under the organization's lock: load, plan, check the quota,
    write, audit and send. The caller's transaction makes it all or nothing."""
    organization = _lock_organization(organization.pk)
    if not organization.is_active:
        raise ApplicationError(MSG_ORGANIZATION_INACTIVE, code="organization_inactive")
    context = _invite_context_load(organization=organization, rows=rows)
    plan = _invite_rows_plan(
        organization=organization,
        rows=rows,
        context=context,
        services_override=services_override,
        actor=actor,
    )
    if not plan.to_create:
        return plan.report, []
    invitation_quota_check(
        organization=organization, count=len(plan.to_create), actor=actor, now=context.now
    )
    created = _invitations_write(plan=plan, now=context.now)
    _invitations_audit_and_send(
        organization=organization,
        created=created,
        plan=plan,
        context=context,
        actor=actor,
        request=request,
    )
    return plan.report, created


@transaction.atomic
def invitation_resend(
    *, invitation: Invitation, actor: User | None, request: HttpRequest | None = None
) -> Invitation:
    """New token and a fresh expiry; the old link stops working. Only open invitations. A
    resend is an invitation email, so it counts toward the daily quota (the organization row
    is locked first, in the same order as a new invitation's)."""
    _lock_organization(invitation.organization_id)
    current = (
        Invitation.objects.select_for_update().select_related("organization").get(pk=invitation.pk)
    )
    _invitation_check_open(current, allow_expired=True)
    invitation_quota_check(organization=current.organization, count=1, actor=actor)
    token, hashed = _new_token()
    current.token_hash = hashed
    current.expires_at = _expiry()
    current.save(update_fields=["token_hash", "expires_at"])
    audit_event_record(
        actor=actor,
        action="invitation.resent",
        organization=current.organization,
        request=request,
        details={"email": current.email, "invitation_id": current.pk},
    )
    language = (
        User.objects.filter(email=current.email)
        .values_list("preferred_language", flat=True)
        .first()
        or _current_language()
    )
    _send_invitation_email(
        invitation=current,
        token=token,
        language=language,
        inviter=actor_user(actor),
    )
    current.token = token
    return current


@transaction.atomic
def invitation_revoke(
    *, invitation: Invitation, actor: User | None, request: HttpRequest | None = None
) -> Invitation:
    current = (
        Invitation.objects.select_for_update().select_related("organization").get(pk=invitation.pk)
    )
    _invitation_check_open(current, allow_expired=True)
    current.revoked_at = timezone.now()
    current.save(update_fields=["revoked_at"])
    audit_event_record(
        actor=actor,
        action="invitation.revoked",
        organization=current.organization,
        request=request,
        details={"email": current.email, "invitation_id": current.pk},
    )
    invitation.revoked_at = current.revoked_at
    return current


def _invitation_check_open(invitation: Invitation, *, allow_expired: bool = False) -> None:
    if invitation.revoked_at is not None:
        raise ApplicationError(MSG_INVITATION_REVOKED, code="invitation_revoked")
    if invitation.accepted_at is not None:
        raise ApplicationError(MSG_INVITATION_USED, code="invitation_used")
    if not allow_expired and invitation.is_expired:
        raise ApplicationError(MSG_INVITATION_EXPIRED, code="invitation_expired")


def invitation_check(*, token: str) -> Invitation:
    """The open invitation for `token`, or ApplicationError saying why it cannot be used."""
    invitation = invitation_get_by_token(token=token)
    if invitation is None:
        raise ApplicationError(MSG_INVITATION_INVALID, code="invitation_invalid")
    _invitation_check_open(invitation)
    if not invitation.organization.is_active:
        raise ApplicationError(MSG_ORGANIZATION_INACTIVE, code="organization_inactive")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User, request: HttpRequest | None = None) -> Membership:
    """Accept an invitation as the logged-in `user`, whose verified primary email must equal
    the invited address. Expired, revoked and used links are refused with their own codes.
    Never creates a second membership."""
    invitation = invitation_check(token=token)
    return _invitation_accept(invitation_id=invitation.pk, user=user, request=request)


def _invitation_accept(
    *, invitation_id: int, user: User, request: HttpRequest | None
) -> Membership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    organization = _lock_organization(invitation.organization_id)
    _invitation_check_open(invitation)
    if not organization.is_active:
        raise ApplicationError(MSG_ORGANIZATION_INACTIVE, code="organization_inactive")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise ApplicationError(MSG_INVITATION_OTHER_EMAIL, code="invitation_other_email")
    if UserManager.normalize_email(invitation.email) != user.email:
        raise ApplicationError(MSG_INVITATION_OTHER_EMAIL, code="invitation_other_email")
    if not EmailAddress.objects.filter(user=user, email=user.email, verified=True).exists():
        raise ApplicationError(MSG_EMAIL_NOT_VERIFIED, code="email_not_verified")
    services = list(invitation.services.all())
    membership = (
        Membership.objects.select_for_update().filter(organization=organization, user=user).first()
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_event_record(
        actor=user,
        action="invitation.accepted",
        target_user=user,
        organization=organization,
        request=request,
        details={"invitation_id": invitation.pk, "role": invitation.role},
    )
    if membership is None or membership.status == Membership.Status.REMOVED:
        return membership_create(
            organization=organization,
            user=user,
            role=invitation.role,
            services=services,
            source=Membership.Source.INVITATION,
            actor=user,
            added_by=invitation.invited_by,
            request=request,
        )
    # Already a member (e.g. a pending legacy membership): activate, never duplicate.
    changed = []
    if membership.status != Membership.Status.ACTIVE:
        membership.status = Membership.Status.ACTIVE
        changed.append("status")
    if invitation.role == Membership.Role.MAIN_USER and membership.role != invitation.role:
        membership.role = Membership.Role.MAIN_USER
        changed.append("role")
    if changed:
        membership.save(update_fields=[*changed, "updated_at"])
    if services:
        membership.services.add(*services)
    audit_event_record(
        actor=user,
        action="membership.activated",
        target_user=user,
        organization=organization,
        request=request,
        details={"reason": "invitation", "services": [s.code for s in services]},
    )
    return membership
