"""Merge planning (dry run) and apply: legacy accounts -> users, organizations, memberships."""

from __future__ import annotations

import queue
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Concat
from django.utils import timezone

from kernel.actors import actor_user
from organizations.models import Membership, Organization
from posti_accounts.audit import audit_event_record, audit_events_bulk_record
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import users_unverified_credentials_end

from ..models import LegacyAccount, MergePlan
from . import merging_sql
from .locks import migration_lock

Reason = LegacyAccount.ConflictReason
State = LegacyAccount.State
# Most important last: a later reason overwrites an earlier one on the same account.
_REASON_ORDER = [
    Reason.ORGANIZATION_NAME_CONFLICT,
    Reason.BUSINESS_ID_INVALID,
    Reason.SHARED_MAILBOX,
    Reason.EMAIL_INVALID,
    Reason.EMAIL_MISSING,
]
REPORT_LIST_LIMIT = 1000
NAME_MISMATCH = "name_mismatch"
# Identities per transaction of the set-based PostgreSQL apply (`merging_sql`). Measured at
# 1,000,000 rows: 100,000 was much slower than 20,000 (bigger temp tables and hash joins
# spill to disk, longer deferred foreign-key checks at commit), and it was measured again
# at 60,000 against 20,000 with no clear difference.
SQL_BATCH_SIZE = 20_000

# Test hook: called with the number of identities merged so far after each committed batch.
after_batch_hook: Callable[[int], None] | None = None


def _org_name_key(name: str) -> str:
    return re.sub(r"[\W_]+", " ", name.casefold()).strip()


def _open_accounts() -> QuerySet[LegacyAccount]:
    """Accounts the plan classifies: not merged, retired or dropped, active in the old service."""
    return LegacyAccount.objects.filter(state__in=[State.IMPORTED, State.CONFLICT], is_active=True)


def _eligible() -> QuerySet[LegacyAccount]:
    return LegacyAccount.objects.filter(state=State.IMPORTED, is_active=True)


def _conflicting_business_ids() -> list[str]:
    names: dict[str, set[str]] = defaultdict(set)
    rows = (
        _open_accounts()
        .filter(business_id_valid=True)
        .exclude(business_id="")
        .values_list("business_id", "organization_name")
        .distinct()
    )
    for bid, name in rows.iterator(chunk_size=10000):
        key = _org_name_key(name)
        if key:
            names[bid].add(key)
    return sorted(bid for bid, keys in names.items() if len(keys) > 1)


def _reason_filter(reason: str, conflicting_bids: list[str]) -> Q:
    if reason == Reason.EMAIL_MISSING:
        return Q(email="")
    if reason == Reason.EMAIL_INVALID:
        return Q(email_valid=False) & ~Q(email="")
    if reason == Reason.SHARED_MAILBOX:
        q = Q(pk__in=[])
        for local in settings.SHARED_MAILBOX_LOCAL_PARTS:
            q |= Q(email__startswith=f"{local.strip().lower()}@")
        return q
    if reason == Reason.BUSINESS_ID_INVALID:
        return Q(business_id_valid=False) & ~Q(business_id="")
    return Q(business_id__in=conflicting_bids)


# Above this many conflicting business IDs the classification falls back to one UPDATE per
# reason, with the IDs in chunks (bounded parameter counts on every database).
_ONE_PASS_MAX_BIDS = 20_000


def _reason_expression(conflicting_bids: list[str]) -> Case:
    """The conflict reason of an open account as SQL: the first matching rule in order of
    importance (missing email, invalid email, shared mailbox, invalid business ID,
    organization name conflict), '' when none matches."""
    return Case(
        *[
            When(_reason_filter(reason, conflicting_bids), then=Value(str(reason)))
            for reason in reversed(_REASON_ORDER)
        ],
        default=Value(""),
        output_field=CharField(),
    )


def _name_mismatched(accounts: QuerySet[LegacyAccount]) -> QuerySet[LegacyAccount]:
    """The emails of `accounts` that carry more than one name."""
    return (
        accounts.values("email")
        .annotate(names=Count(Concat("first_name", "last_name"), distinct=True))
        .filter(names__gt=1)
        .values("email")
    )


@transaction.atomic
def _classify() -> None:
    """Recompute the conflict state of every open account; only rows whose classification
    changes are written."""
    conflicting = _conflicting_business_ids()
    open_accounts = _open_accounts()
    if len(conflicting) <= _ONE_PASS_MAX_BIDS:
        reason = _reason_expression(conflicting)
        state = Case(
            When(Q(conflict_reason=""), then=Value(str(State.IMPORTED))),
            default=Value(str(State.CONFLICT)),
            output_field=CharField(),
        )
        # Two statements: the first sets the reasons that changed, the second makes every
        # state agree with its reason (for the rows whose reason did not change too).
        open_accounts.exclude(conflict_reason=reason).update(conflict_reason=reason)
        open_accounts.exclude(state=state).update(state=state)
    else:
        open_accounts.filter(state=State.CONFLICT).update(state=State.IMPORTED, conflict_reason="")
        for reason in _REASON_ORDER:
            if reason == Reason.ORGANIZATION_NAME_CONFLICT:
                for start in range(0, len(conflicting), 5000):
                    chunk = conflicting[start : start + 5000]
                    open_accounts.filter(business_id__in=chunk).update(
                        state=State.CONFLICT, conflict_reason=reason
                    )
                continue
            open_accounts.filter(_reason_filter(reason, conflicting)).update(
                state=State.CONFLICT, conflict_reason=reason
            )

    # Warning only: one email with different names (the most recently used name wins).
    # Not `CASE WHEN email IN (...)`: PostgreSQL runs an IN inside an expression as a
    # subplan that, once its result outgrows work_mem, is scanned again for every row
    # (minutes at 1M rows). In WHERE it becomes a hash semi-join; the stale warnings (few
    # rows) are checked one email at a time by the email index.
    open_accounts.filter(email__in=_name_mismatched(_eligible())).exclude(
        warning=NAME_MISMATCH
    ).update(warning=NAME_MISMATCH)
    open_accounts.filter(warning=NAME_MISMATCH).exclude(
        Exists(_name_mismatched(_eligible().filter(email=OuterRef("email"))))
    ).update(warning="")


def _report() -> dict[str, Any]:
    eligible = _eligible()
    emails = eligible.values("email").distinct()
    identities = emails.count()
    existing_users = User.objects.filter(email__in=eligible.values("email")).count()
    with_org = eligible.filter(business_id_valid=True).exclude(business_id="")
    bids = with_org.values("business_id").distinct()
    orgs_total = bids.count()
    orgs_existing = Organization.objects.filter(business_id__in=with_org.values("business_id"))
    memberships = with_org.values("email", "business_id").distinct().count()
    main_users = with_org.filter(role="admin").values("email", "business_id").distinct().count()
    # Organizations with no legacy admin (one GROUP BY), less those that already have a main
    # user in the portal (checked in chunks).
    no_admin = list(
        with_org.values("business_id")
        .annotate(admins=Count("id", filter=Q(role="admin")), name=Max("organization_name"))
        .filter(admins=0)
        .order_by("business_id")
        .values_list("business_id", "name")
    )
    without_main: dict[str, str] = {}
    for start in range(0, len(no_admin), 5000):
        chunk = dict(no_admin[start : start + 5000])
        appointed = set(
            Membership.objects.filter(
                organization__business_id__in=list(chunk),
                role=Membership.Role.MAIN_USER,
                status__in=[Membership.Status.ACTIVE, Membership.Status.PENDING],
            ).values_list("organization__business_id", flat=True)
        )
        without_main.update((b, n) for b, n in chunk.items() if b not in appointed)
    conflicts = dict(
        LegacyAccount.objects.filter(state=State.CONFLICT)
        .values_list("conflict_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    name_warnings = eligible.filter(warning=NAME_MISMATCH).values("email").distinct().count()
    return {
        "identities": identities,
        "identities_to_create": identities - existing_users,
        "identities_joining_existing_users": existing_users,
        "organizations_to_create": orgs_total - orgs_existing.count(),
        "organizations_existing": orgs_existing.count(),
        "memberships": memberships,
        "main_users": main_users,
        "accounts_to_merge": eligible.count(),
        "accounts_already_merged": LegacyAccount.objects.filter(state=State.MERGED).count(),
        "accounts_inactive_skipped": LegacyAccount.objects.filter(
            is_active=False, state__in=[State.IMPORTED, State.CONFLICT]
        ).count(),
        "conflicts": {str(k): v for k, v in sorted(conflicts.items())},
        "warnings": {NAME_MISMATCH: name_warnings},
        "organizations_without_main_user_count": len(without_main),
        "organizations_without_main_user": [
            {"business_id": bid, "name": name}
            for bid, name in list(without_main.items())[:REPORT_LIST_LIMIT]
        ],
    }


def legacy_merge_plan(*, actor=None) -> MergePlan:
    """Dry run: classify conflicts (the admin's review queue) and store the plan report."""
    with migration_lock():
        _classify()
        report = _report()
        with transaction.atomic():
            plan = MergePlan.objects.create(
                created_by=actor_user(actor),
                report={"plan": report},
                finished_at=timezone.now(),
            )
            audit_event_record(actor=actor, action="legacy.planned", details=_summary(report))
    return plan


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "organizations_without_main_user"}


# --- apply --------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _recency(account: LegacyAccount) -> tuple:
    return (account.last_login or _EPOCH, account.updated_at, account.pk)


def _merge_batch(emails: list[str], actor, totals: dict[str, int]) -> None:
    accounts = list(
        _eligible().filter(email__in=emails).select_related(None).order_by("email", "id")
    )
    if not accounts:
        return
    by_email: dict[str, list[LegacyAccount]] = defaultdict(list)
    for account in accounts:
        by_email[account.email].append(account)
    users = {u.email: u for u in User.objects.filter(email__in=list(by_email))}
    verified = set(
        EmailAddress.objects.filter(
            user__in=list(users.values()), verified=True, primary=True
        ).values_list("user_id", flat=True)
    )

    # Users: create the missing ones (with their EmailAddress rows), flag the existing ones.
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

    # Organizations by business ID (created before the batches by `_organizations_create`).
    org_accounts: dict[str, list[LegacyAccount]] = defaultdict(list)
    for account in accounts:
        if account.business_id and account.business_id_valid:
            org_accounts[account.business_id].append(account)
    orgs = {
        o.business_id: o for o in Organization.objects.filter(business_id__in=list(org_accounts))
    }

    # Memberships (pending until the email is verified) and service access.
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

    # One set-based UPDATE links every account of the batch to its user by email.
    LegacyAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(
        user_id=Subquery(User.objects.filter(email=OuterRef("email")).values("pk")[:1]),
        state=State.MERGED,
        merged_at=timezone.now(),
        conflict_reason="",
    )
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
    totals["identities"] += len(by_email)
    totals["users_created"] += len(new_users)
    totals["users_linked"] += len(by_email) - len(new_users)
    totals["memberships_created"] += len(to_create)
    totals["accounts_merged"] += len(accounts)


def _organizations_create(actor) -> int:
    """The organization of every business ID of the eligible accounts that has none yet,
    named by its most recently used name (one transaction, before the batches)."""
    named: dict[str, tuple] = {}
    rows = (
        _eligible()
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


def _use_sql() -> bool:
    """The set-based apply runs on PostgreSQL unless `LEGACY_MERGE_SQL = False`, or a column
    of the tables it inserts into has no value it knows (then the ORM path runs)."""
    if connection.vendor != "postgresql" or not getattr(settings, "LEGACY_MERGE_SQL", True):
        return False
    try:
        merging_sql.check_schema()
    except merging_sql.UnsupportedSchema:
        return False
    return True


def _apply_sequential(actor, batch_size: int, use_sql: bool, totals: dict[str, int]) -> None:
    last = ""
    while True:
        emails = list(
            _eligible()
            .filter(email__gt=last)
            .order_by("email")
            .values_list("email", flat=True)
            .distinct()[:batch_size]
        )
        if not emails:
            break
        with transaction.atomic():
            if use_sql:
                merging_sql.merge_batch_sql(after=last, upto=emails[-1], actor=actor, totals=totals)
            else:
                _merge_batch(emails, actor, totals)
        last = emails[-1]
        if after_batch_hook is not None:
            after_batch_hook(totals["identities"])


def _apply_parallel(actor, batch_size: int, workers: int, totals: dict[str, int]) -> None:
    """PostgreSQL outside a transaction: `workers` threads, each with its own connection,
    merge disjoint email ranges at once (identities never span two ranges; organizations are
    inserted in business ID order, so two batches creating the same ones wait for each
    other instead of deadlocking). Each batch is still one transaction: a failure stops the
    others after their current batch, and a rerun merges what is left."""
    ranges = queue.SimpleQueue()
    for bounds in merging_sql.batch_bounds(batch_size):
        ranges.put(bounds)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        mine = dict.fromkeys(totals, 0)
        try:
            while not failures:
                try:
                    after, upto = ranges.get_nowait()
                except queue.Empty:
                    break
                merging_sql.merge_batch_retrying(after=after, upto=upto, actor=actor, totals=mine)
                if after_batch_hook is not None:
                    with lock:
                        after_batch_hook(totals["identities"] + mine["identities"])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            failures.append(exc)
        finally:
            with lock:
                for key, value in mine.items():
                    totals[key] += value
            connections.close_all()

    threads = [threading.Thread(target=work, name=f"legacy-merge-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def legacy_accounts_merge(*, actor=None, batch_size: int | None = None) -> MergePlan:
    """Apply the plan. Each batch of identities is one transaction, so an interrupted run
    leaves only whole identities behind and a rerun continues where it stopped; a second
    run finds nothing left to merge and changes nothing. On PostgreSQL each batch is a
    handful of set-based statements (`merging_sql`); elsewhere the ORM path below."""
    use_sql = _use_sql()
    batch_size = batch_size or (SQL_BATCH_SIZE if use_sql else settings.LEGACY_MERGE_BATCH_SIZE)
    totals = dict.fromkeys(
        [
            "identities",
            "users_created",
            "users_linked",
            "organizations_created",
            "memberships_created",
            "accounts_merged",
        ],
        0,
    )
    with migration_lock():
        if use_sql:
            merging_sql.merge_prepare()
        _classify()
        report = _report()
        if use_sql:  # one statement: atomic by itself
            totals["organizations_created"] = merging_sql.organizations_create(actor=actor)
        else:
            totals["organizations_created"] = _organizations_create(actor)
        workers = settings.LEGACY_MERGE_WORKERS
        if use_sql and workers > 1 and not connection.in_atomic_block:
            _apply_parallel(actor, batch_size, workers, totals)
        else:
            _apply_sequential(actor, batch_size, use_sql, totals)
        with transaction.atomic():
            plan = MergePlan.objects.create(
                created_by=actor_user(actor),
                applied=True,
                report={"plan": report, "applied": totals},
                finished_at=timezone.now(),
            )
            audit_event_record(actor=actor, action="legacy.merge_applied", details=totals)
    return plan
