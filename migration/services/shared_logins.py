"""Shared logins: a shared mailbox (info@, toimisto@, ...) used as a login in an old service.

It never becomes a personal identity: the plan puts it in the review queue (reason
`shared_mailbox`, by `shared_mailbox_is`) and the merge leaves it there. Staff hand such an
item to the main users of its organization (`shared_login_hand_over`), who see it on the
organization's "Shared logins" page and invite the real persons behind it, the old service
offered as their e-service (`shared_login_resolve`); the item is then closed and the legacy
account dropped from the migration. Every step is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from organizations.models import Membership, Organization
from organizations.services import INVALID, INVITED, InviteRow, invitations_bulk_create
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User

from ..models import LegacyAccount, SharedLoginHandover
from .import_normalize import normalize_email

MSG_NO_PERSONS = _("Give the email address of at least one person.")
MSG_SHARED_ADDRESS = _(
    "%(email)s is a shared mailbox too: invite each person with their own address."
)
MSG_ADDRESS_INVALID = _("%(email)s: %(message)s")
MSG_CLOSED = _("This shared login has been handled already.")
MAX_PERSONS = 100


def shared_mailbox_is(email: str) -> bool:
    """Whether the (normalized) address is a shared mailbox by its local part
    (`settings.SHARED_MAILBOX_LOCAL_PARTS`: info, toimisto, ...)."""
    local, at, _domain = (email or "").strip().lower().partition("@")
    return bool(at) and local in {p.strip().lower() for p in settings.SHARED_MAILBOX_LOCAL_PARTS}


@dataclass(frozen=True)
class HandOverResult:
    handed: int
    already: int
    refused: int


def _organizations_with_main_user(business_ids: Iterable[str]) -> dict[str, Organization]:
    return {
        o.business_id: o
        for o in Organization.objects.filter(
            business_id__in=set(business_ids),
            is_active=True,
            memberships__role=Membership.Role.MAIN_USER,
            memberships__status=Membership.Status.ACTIVE,
        ).distinct()
    }


@transaction.atomic
def shared_login_hand_over(*, account_ids: Sequence[int], actor: User | None) -> HandOverResult:
    """Hand the shared-mailbox review items among `account_ids` to the main users of their
    organizations (by business ID). Refused: accounts that are not open shared-mailbox
    conflicts, or whose organization does not exist or has no active main user yet."""
    accounts = list(
        LegacyAccount.objects.filter(
            pk__in=list(account_ids)[:10_000],
            state=LegacyAccount.State.CONFLICT,
            conflict_reason=LegacyAccount.ConflictReason.SHARED_MAILBOX,
        ).select_related("service")
    )
    already = set(
        SharedLoginHandover.objects.filter(account__in=accounts).values_list(
            "account_id", flat=True
        )
    )
    organizations = _organizations_with_main_user(a.business_id for a in accounts)
    handed = 0
    for account in accounts:
        organization = organizations.get(account.business_id)
        if account.pk in already or organization is None:
            continue
        SharedLoginHandover.objects.create(
            account=account, organization=organization, handed_by=actor_user(actor)
        )
        audit_event_record(
            actor=actor,
            action="legacy.shared_login_handed_over",
            organization=organization,
            details={"account": str(account), "service": account.service.code},
        )
        handed += 1
    return HandOverResult(
        handed=handed,
        already=len(already),
        refused=len(set(account_ids)) - handed - len(already),
    )


def _persons(emails: Iterable[str]) -> list[str]:
    found: list[str] = []
    for raw in emails:
        if not raw.strip():
            continue
        email, _valid = normalize_email(raw)
        if shared_mailbox_is(email):
            raise ApplicationError(MSG_SHARED_ADDRESS % {"email": email}, code="shared_address")
        if email not in found:
            found.append(email)
    if not found:
        raise ApplicationError(MSG_NO_PERSONS, code="no_persons")
    return found[:MAX_PERSONS]


@transaction.atomic
def shared_login_resolve(
    *,
    handover: SharedLoginHandover,
    emails: Iterable[str],
    service_codes: Sequence[str],
    actor: User | None,
    request: HttpRequest | None = None,
) -> int:
    """Invite the real persons behind a shared login to its organization (as members, with
    `service_codes` as their e-services), then close the item and drop the legacy account
    from the migration (its password hash is deleted). All or nothing: one invalid address
    and nobody is invited, the item stays open. Returns the number of invitations sent
    (people already members or invited are counted as done, not invited again)."""
    handover = SharedLoginHandover.objects.select_for_update().get(pk=handover.pk)
    if handover.closed_at is not None:
        raise ApplicationError(MSG_CLOSED, code="closed")
    persons = _persons(emails)
    outcomes = invitations_bulk_create(
        organization=handover.organization,
        rows=[InviteRow(email=e, services=tuple(service_codes)) for e in persons],
        actor=actor,
        request=request,
    )
    bad = [o for o in outcomes if o.status == INVALID]
    if bad:
        raise ApplicationError(
            MSG_ADDRESS_INVALID % {"email": bad[0].email, "message": bad[0].message},
            code="invalid_address",
        )
    invited = sum(1 for o in outcomes if o.status == INVITED)
    handover.closed_at, handover.closed_by = timezone.now(), actor_user(actor)
    handover.invited = invited
    handover.save(update_fields=["closed_at", "closed_by", "invited"])
    LegacyAccount.objects.filter(pk=handover.account_id).update(
        state=LegacyAccount.State.DROPPED,
        password_hash="",
        hash_salt="",
        hash_wrapped=False,
        updated_at=timezone.now(),
    )
    audit_event_record(
        actor=actor,
        action="legacy.shared_login_resolved",
        organization=handover.organization,
        request=request,
        details={"account": str(handover.account), "persons": len(persons), "invited": invited},
    )
    return invited
