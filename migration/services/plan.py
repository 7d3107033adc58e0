"""Plan and review: classify the open legacy accounts (the review queue) and report what an
apply would do (a dry run, stored as a `MergePlan`)."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Count, Exists, Max, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from kernel.actors import actor_user
from organizations.models import Membership, Organization
from posti_accounts.audit import audit_event_record
from posti_accounts.models import User

from ..models import LegacyAccount, MergePlan, OrganizationReviewItem
from .lock import migration_lock
from .org_review import organization_name_conflicts

Reason = LegacyAccount.ConflictReason
PlanWarning = LegacyAccount.PlanWarning
State = LegacyAccount.State
# Most important last: a later reason overwrites an earlier one on the same account. Each
# is a property of the email alone, so the accounts of one person are in conflict together
# or not at all (all or nothing per person). An organization's problem (names that
# disagree, an invalid business ID, no main user) is never a reason: its people merge.
_REASON_ORDER = [
    Reason.SHARED_MAILBOX,
    Reason.EMAIL_INVALID,
    Reason.EMAIL_MISSING,
]
REPORT_LIST_LIMIT = 1000
NAME_MISMATCH = PlanWarning.NAME_MISMATCH.value


def _open_accounts() -> QuerySet[LegacyAccount]:
    """Accounts the plan classifies: not merged, retired or dropped, active in the old service."""
    return LegacyAccount.objects.filter(state__in=[State.IMPORTED, State.CONFLICT], is_active=True)


def eligible_accounts() -> QuerySet[LegacyAccount]:
    """Accounts an apply merges: imported (not in conflict), active in the old service."""
    return LegacyAccount.objects.filter(state=State.IMPORTED, is_active=True)


def _reason_filter(reason: str) -> Q:
    if reason == Reason.EMAIL_MISSING:
        return Q(email="")
    if reason == Reason.EMAIL_INVALID:
        return Q(email_valid=False) & ~Q(email="")
    q = Q(pk__in=[])
    for local in settings.SHARED_MAILBOX_LOCAL_PARTS:
        q |= Q(email__startswith=f"{local.strip().lower()}@")
    return q


def _reason_expression() -> Case:
    """The conflict reason of an open account as SQL: the first matching rule in order of
    importance (missing email, invalid email, shared mailbox), '' when none matches."""
    return Case(
        *[
            When(_reason_filter(reason), then=Value(str(reason)))
            for reason in reversed(_REASON_ORDER)
        ],
        default=Value(""),
        output_field=CharField(),
    )


def _name_mismatched(accounts: QuerySet[LegacyAccount]) -> QuerySet[LegacyAccount, Any]:
    """The emails of `accounts` that carry more than one name (a `values("email")` query)."""
    return (
        accounts.values("email")
        .annotate(names=Count(Concat("first_name", "last_name"), distinct=True))
        .filter(names__gt=1)
        .values("email")
    )


@transaction.atomic
def accounts_classify() -> None:
    """Recompute the conflict state of every open account; only rows whose classification
    changes are written."""
    open_accounts = _open_accounts()
    reason = _reason_expression()
    state = Case(
        When(Q(conflict_reason=""), then=Value(str(State.IMPORTED))),
        default=Value(str(State.CONFLICT)),
        output_field=CharField(),
    )
    # Two statements: the first sets the reasons that changed, the second makes every
    # state agree with its reason (for the rows whose reason did not change too).
    open_accounts.exclude(conflict_reason=reason).update(conflict_reason=reason)
    open_accounts.exclude(state=state).update(state=state)

    # Warning only: one email with different names (the most recently used name wins).
    # Not `CASE WHEN email IN (...)`: PostgreSQL runs an IN inside an expression as a
    # subplan that, once its result outgrows work_mem, is scanned again for every row
    # (minutes at 1M rows). In WHERE it becomes a hash semi-join; the stale warnings (few
    # rows) are checked one email at a time by the email index.
    open_accounts.filter(email__in=_name_mismatched(eligible_accounts())).exclude(
        warning=NAME_MISMATCH
    ).update(warning=NAME_MISMATCH)
    open_accounts.filter(warning=NAME_MISMATCH).exclude(
        Exists(_name_mismatched(eligible_accounts().filter(email=OuterRef("email"))))
    ).update(warning="")


def plan_report(*, name_conflicts: dict[str, list] | None = None) -> dict[str, Any]:
    """What an apply of the classified accounts would create, join and leave for review
    (`name_conflicts`: `organization_name_conflicts()`, when the caller has it already)."""
    eligible = eligible_accounts()
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
    if name_conflicts is None:
        name_conflicts = organization_name_conflicts()
    unsettled = set(name_conflicts)
    if unsettled:
        unsettled -= set(
            OrganizationReviewItem.objects.filter(
                kind=OrganizationReviewItem.Kind.NAME_CONFLICT,
                status=OrganizationReviewItem.Status.RESOLVED,
                organization__business_id__in=list(unsettled),
            ).values_list("organization__business_id", flat=True)
        )
    counts = eligible.aggregate(
        accounts=Count("id"),
        bid_invalid=Count("id", filter=Q(business_id_valid=False) & ~Q(business_id="")),
    )
    active_elsewhere = LegacyAccount.objects.filter(
        email=OuterRef("email"),
        is_active=True,
        state__in=[State.IMPORTED, State.CONFLICT, State.MERGED],
    )
    inactive = LegacyAccount.objects.filter(
        is_active=False, state__in=[State.IMPORTED, State.CONFLICT]
    ).aggregate(
        accounts=Count("id"),
        # People whose every legacy account is inactive: reported, never created.
        persons=Count(
            "email",
            distinct=True,
            # A non-empty Q combined with a condition is a Q (the stubs say Combinable).
            filter=cast(Q, Q(email_valid=True) & ~Exists(active_elsewhere)),
        ),
    )
    return {
        "identities": identities,
        "identities_to_create": identities - existing_users,
        "identities_joining_existing_users": existing_users,
        "organizations_to_create": orgs_total - orgs_existing.count(),
        "organizations_existing": orgs_existing.count(),
        "memberships": memberships,
        "main_users": main_users,
        "accounts_to_merge": counts["accounts"],
        "accounts_already_merged": LegacyAccount.objects.filter(state=State.MERGED).count(),
        "accounts_inactive_skipped": inactive["accounts"],
        "persons_only_inactive": inactive["persons"],
        "conflicts": {str(k): v for k, v in sorted(conflicts.items())},
        "warnings": {
            NAME_MISMATCH: name_warnings,
            PlanWarning.ORGANIZATION_NAME_CONFLICT.value: len(unsettled),
            PlanWarning.BUSINESS_ID_INVALID.value: counts["bid_invalid"],
        },
        "organizations_without_main_user_count": len(without_main),
        "organizations_without_main_user": [
            {"business_id": bid, "name": name}
            for bid, name in list(without_main.items())[:REPORT_LIST_LIMIT]
        ],
    }


def legacy_merge_plan(*, actor: User | None = None) -> MergePlan:
    """Dry run: classify conflicts (the admin's review queue) and store the plan report."""
    with migration_lock():
        accounts_classify()
        report = plan_report()
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
