"""Apply, ORM path (databases other than PostgreSQL): one batch of identities at a time with
the ORM; the same rules as the set-based `apply_sql`, which a parity test holds it to."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from kernel.actors import actor_user
from organizations.models import Membership, Organization
from posti_accounts.audit import audit_events_bulk_record
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import users_unverified_credentials_end

from ..models import LegacyAccount
from .plan import eligible_accounts

State = LegacyAccount.State

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _recency(account: LegacyAccount) -> tuple:
    return (account.last_login or _EPOCH, account.updated_at, account.pk)


def merge_batch_orm(emails: list[str], actor: User | None, totals: dict[str, int]) -> None:
    """The ORM path of one batch of identities (databases other than PostgreSQL), in the same
    named steps as the SQL merge: users, memberships, links, audit."""
    accounts = list(
        eligible_accounts().filter(email__in=emails).select_related(None).order_by("email", "id")
    )
    if not accounts:
        return
    by_email: dict[str, list[LegacyAccount]] = defaultdict(list)
    for account in accounts:
        by_email[account.email].append(account)
    users, verified, new_users = _users_orm(by_email, actor)
    memberships_created = _memberships_orm(accounts, users, verified, actor)
    _links_orm(accounts)
    created_emails = {u.email for u in new_users}
    _audit_orm(by_email, users, created_emails, actor)
    totals["identities"] += len(by_email)
    totals["users_created"] += len(new_users)
    totals["users_linked"] += len(by_email) - len(new_users)
    totals["memberships_created"] += memberships_created
    totals["accounts_merged"] += len(accounts)


def _users_orm(
    by_email: dict[str, list[LegacyAccount]], actor: User | None
) -> tuple[dict[str, User], set[int], list[User]]:
    """Create the missing users (with their EmailAddress rows), named and phoned by their most
    recently used account; flag the existing ones. Returns users by email, the ids of those
    with a verified primary address, and the users created."""
    users = {u.email: u for u in User.objects.filter(email__in=list(by_email))}
    verified = set(
        EmailAddress.objects.filter(
            user__in=list(users.values()), verified=True, primary=True
        ).values_list("user_id", flat=True)
    )
    new_users: list[User] = []
    for email, group in by_email.items():
        if email in users:
            continue
        named = sorted((a for a in group if a.first_name or a.last_name), key=_recency)
        phoned = sorted((a for a in group if a.phone), key=_recency)
        user = User(
            email=email,
            first_name=named[-1].first_name if named else "",
            last_name=named[-1].last_name if named else "",
            phone=phoned[-1].phone[:32] if phoned else "",
            requires_verify_email=True,
            requires_update_password=True,
        )
        user.set_unusable_password()
        new_users.append(user)
    User.objects.bulk_create(new_users)
    if new_users and new_users[0].pk is None:  # backends that do not return ids
        created = User.objects.filter(email__in=[u.email for u in new_users])
        new_users = list(created)
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, primary=True, verified=False) for u in new_users]
    )
    for user in new_users:
        users[user.email] = user
    created_emails = {u.email for u in new_users}
    existing_ids = [u.pk for e, u in users.items() if e not in created_emails]
    if existing_ids:
        # Invariant 8: a password set before the address was verified loses its access first.
        users_unverified_credentials_end(
            user_ids=[pk for pk in existing_ids if pk not in verified],
            actor=actor,
            reason="legacy_merge",
        )
        User.objects.filter(pk__in=existing_ids).update(requires_update_password=True)
        User.objects.filter(pk__in=existing_ids).exclude(pk__in=verified).update(
            requires_verify_email=True
        )
    return users, verified, new_users


def _memberships_orm(
    accounts: list[LegacyAccount], users: dict[str, User], verified: set[int], actor: User | None
) -> int:
    """Memberships of the organizations (created before the batches) by business ID, pending
    until the email is verified, main user when any account was an admin, with the accounts'
    services. Returns how many memberships were created."""
    org_accounts: dict[str, list[LegacyAccount]] = defaultdict(list)
    for account in accounts:
        if account.business_id and account.business_id_valid:
            org_accounts[account.business_id].append(account)
    orgs = {
        o.business_id: o for o in Organization.objects.filter(business_id__in=list(org_accounts))
    }
    wanted: dict[tuple[int, int], dict[str, Any]] = {}
    for account in accounts:
        if not (account.business_id and account.business_id_valid):
            continue
        user = users[account.email]
        key = (user.pk, orgs[account.business_id].pk)
        entry = wanted.setdefault(key, {"admin": False, "services": set(), "verified": False})
        entry["admin"] |= account.role == LegacyAccount.Role.ADMIN
        entry["services"].add(account.service_id)
        entry["verified"] = user.pk in verified
    existing_memberships = {
        (m.user_id, m.organization_id): m
        for m in Membership.objects.filter(
            user_id__in={k[0] for k in wanted}, organization_id__in={k[1] for k in wanted}
        )
    }
    to_create = []
    for (user_id, org_id), entry in wanted.items():
        if (user_id, org_id) in existing_memberships:
            continue
        to_create.append(
            Membership(
                user_id=user_id,
                organization_id=org_id,
                role=Membership.Role.MAIN_USER if entry["admin"] else Membership.Role.MEMBER,
                status=Membership.Status.ACTIVE if entry["verified"] else Membership.Status.PENDING,
                source=Membership.Source.LEGACY,
                added_by=actor_user(actor),
            )
        )
    Membership.objects.bulk_create(to_create)
    memberships = {
        (m.user_id, m.organization_id): m
        for m in Membership.objects.filter(
            user_id__in={k[0] for k in wanted}, organization_id__in={k[1] for k in wanted}
        )
    }
    upgrade = [
        m.pk
        for key, m in memberships.items()
        if wanted[key]["admin"]
        and m.source == Membership.Source.LEGACY
        and m.role == Membership.Role.MEMBER
        and m.status != Membership.Status.REMOVED
    ]
    if upgrade:
        Membership.objects.filter(pk__in=upgrade).update(role=Membership.Role.MAIN_USER)
    through = Membership.services.through
    through.objects.bulk_create(
        [
            through(membership_id=m.pk, eservice_id=service_id)
            for key, m in memberships.items()
            if m.status != Membership.Status.REMOVED
            for service_id in wanted[key]["services"]
        ],
        ignore_conflicts=True,
    )
    return len(to_create)


def _links_orm(accounts: list[LegacyAccount]) -> None:
    """One set-based UPDATE links every account of the batch to its user by email."""
    LegacyAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(
        user_id=Subquery(User.objects.filter(email=OuterRef("email")).values("pk")[:1]),
        state=State.MERGED,
        merged_at=timezone.now(),
        conflict_reason="",
    )


def _audit_orm(
    by_email: dict[str, list[LegacyAccount]],
    users: dict[str, User],
    created_emails: set[str],
    actor: User | None,
) -> None:
    """One `legacy.merged` event per identity, naming its old accounts (one INSERT)."""
    actor_obj = actor_user(actor)
    events = [
        AuditEvent(
            actor=actor_obj,
            action="legacy.merged",
            target_user=users[email],
            details={
                "accounts": [f"{a.service_id}:{a.username}" for a in group],
                "user_created": email in created_emails,
            },
        )
        for email, group in by_email.items()
    ]
    audit_events_bulk_record(events)


def organizations_create_orm(actor: User | None) -> int:
    """The organization of every business ID of the eligible accounts that has none yet,
    named by its most recently used name (one transaction, before the batches)."""
    named: dict[str, tuple] = {}
    rows = (
        eligible_accounts()
        .filter(business_id_valid=True)
        .exclude(business_id="")
        .exclude(business_id__in=Organization.objects.values("business_id"))
        .values_list("business_id", "organization_name", "last_login", "updated_at", "id")
    )
    for bid, name, last_login, updated_at, pk in rows.iterator(chunk_size=10000):
        key = (bool(name), last_login or _EPOCH, updated_at, pk)
        if bid not in named or key > named[bid][0]:
            named[bid] = (key, name or bid)
    actor_obj = actor_user(actor)
    with transaction.atomic():
        created = Organization.objects.bulk_create(
            [Organization(business_id=bid, name=named[bid][1]) for bid in sorted(named)],
            ignore_conflicts=True,
        )
        new = Organization.objects.filter(business_id__in=[o.business_id for o in created])
        audit_events_bulk_record(
            [
                AuditEvent(
                    actor=actor_obj,
                    action="organization.created",
                    organization=org,
                    details={"source": "legacy"},
                )
                for org in new.order_by("business_id")
            ]
        )
    return len(created)
