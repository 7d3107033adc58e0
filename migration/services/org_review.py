"""Review items on organizations: what staff must decide about an organization the merge
created or joined, while its people merge regardless.

- `name_conflict`: the legacy data gives one business ID more than one name. The
  organization is created under the most recently used name; staff see every name with its
  services and last use and choose one (`organization_name_choose`, audited).
- `no_main_user`: nobody was a main user in the legacy data. Staff appoint one
  (`organization_main_user_appoint`); the item also closes by itself at the next apply
  once the organization has a main user some other way.

One item per organization and kind (a database constraint), so reruns never open it twice.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.actors import actor_user
from kernel.errors import ApplicationError
from organizations.models import Membership, Organization
from organizations.services import main_user_appoint
from posti_accounts.audit import audit_event_record, audit_events_bulk_record
from posti_accounts.models import AuditEvent, User

from ..models import LegacyAccount, OrganizationReviewItem

Item = OrganizationReviewItem
State = LegacyAccount.State
MSG_ITEM_RESOLVED = _("This review item has already been resolved.")
MSG_ITEM_KIND = _("This review item is not about that.")
MSG_NAME_NOT_A_CANDIDATE = _("Choose one of the names the legacy data gives.")


def _org_name_key(name: str) -> str:
    return re.sub(r"[\W_]+", " ", name.casefold()).strip()


def organization_name_conflicts() -> dict[str, list[dict[str, Any]]]:
    """Business IDs whose active legacy accounts (to merge or merged) give more than one
    organization name, with the names as candidates for staff: spelling, services, number
    of accounts and last use, most recently used first. Names that differ only in case or
    punctuation are one name."""
    accounts = LegacyAccount.objects.filter(
        state__in=[State.IMPORTED, State.MERGED], is_active=True, business_id_valid=True
    ).exclude(business_id="")
    keys: dict[str, set[str]] = defaultdict(set)
    for bid, name in (
        accounts.values_list("business_id", "organization_name").distinct().iterator(10000)
    ):
        if key := _org_name_key(name):
            keys[bid].add(key)
    conflicting = sorted(bid for bid, names in keys.items() if len(names) > 1)
    result: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(conflicting), 5000):
        rows = (
            accounts.filter(business_id__in=conflicting[start : start + 5000])
            .exclude(organization_name="")
            .values_list("business_id", "organization_name", "service__code")
            .annotate(n=Count("id"), last=Max("last_login"))
            .order_by()
        )
        grouped: dict[tuple[str, str], dict[str, Any]] = {}
        for bid, name, code, n, last in rows:
            entry = grouped.setdefault(
                (bid, _org_name_key(name)),
                {"spellings": defaultdict(int), "services": set(), "accounts": 0, "last": None},
            )
            entry["spellings"][name] += n
            entry["services"].add(code)
            entry["accounts"] += n
            if last is not None and (entry["last"] is None or last > entry["last"]):
                entry["last"] = last
        for (bid, _key), entry in sorted(grouped.items()):
            result.setdefault(bid, []).append(
                {
                    "name": max(entry["spellings"].items(), key=lambda kv: (kv[1], kv[0]))[0],
                    "services": sorted(entry["services"]),
                    "accounts": entry["accounts"],
                    "last_used": entry["last"].isoformat() if entry["last"] else None,
                }
            )
    for candidates in result.values():
        candidates.sort(key=lambda c: (c["last_used"] or "", c["accounts"]), reverse=True)
    return result


def _main_user_exists(organization_ref: str) -> Exists:
    """The organization (`OuterRef(organization_ref)`) has an active or pending main user."""
    return Exists(
        Membership.objects.filter(
            organization=OuterRef(organization_ref),
            role=Membership.Role.MAIN_USER,
            status__in=[Membership.Status.ACTIVE, Membership.Status.PENDING],
        )
    )


def organization_reviews_open(
    *, name_conflicts: dict[str, list[dict[str, Any]]], actor: User | None
) -> int:
    """Open the review items the merged data calls for (after the merge's batches): a name
    item on each organization whose legacy names disagree (`organization_name_conflicts`),
    a main user item on each organization with legacy members and no main user. Returns
    how many were opened; each gets a `legacy.organization_review_opened` audit event."""
    new = [
        Item(organization=org, kind=Item.Kind.NAME_CONFLICT, candidates=name_conflicts[bid])
        for bid, org in _organizations_without_item(list(name_conflicts), Item.Kind.NAME_CONFLICT)
    ]
    headless = (
        Organization.objects.filter(
            Exists(
                Membership.objects.filter(
                    organization=OuterRef("pk"), source=Membership.Source.LEGACY
                )
            )
        )
        .exclude(_main_user_exists("pk"))
        .exclude(
            Exists(Item.objects.filter(organization=OuterRef("pk"), kind=Item.Kind.NO_MAIN_USER))
        )
        .order_by("business_id")
    )
    new += [Item(organization=org, kind=Item.Kind.NO_MAIN_USER) for org in headless]
    if not new:
        return 0
    actor_obj = actor_user(actor)
    with transaction.atomic():
        # One per organization and kind: the constraint settles a concurrent opener.
        Item.objects.bulk_create(new, ignore_conflicts=True)
        audit_events_bulk_record(
            [
                AuditEvent(
                    actor=actor_obj,
                    action="legacy.organization_review_opened",
                    organization=item.organization,
                    details={"kind": item.kind},
                )
                for item in new
            ]
        )
    return len(new)


def _organizations_without_item(business_ids: list[str], kind: str):
    """(business ID, organization) of the organizations of `business_ids` that have no
    item of `kind` yet, in business ID order (chunked: bounded parameters)."""
    for start in range(0, len(business_ids), 5000):
        orgs = (
            Organization.objects.filter(business_id__in=business_ids[start : start + 5000])
            .exclude(Exists(Item.objects.filter(organization=OuterRef("pk"), kind=kind)))
            .order_by("business_id")
        )
        for org in orgs:
            yield org.business_id, org


def organization_reviews_settle() -> int:
    """Close the open main user items of organizations that have one by now (appointed in
    the organization pages, or merged from a newer export). Returns how many closed."""
    open_items = Item.objects.filter(kind=Item.Kind.NO_MAIN_USER, status=Item.Status.OPEN)
    if not open_items.filter(_main_user_exists("organization")).exists():
        return 0
    with transaction.atomic():
        settled = list(
            open_items.select_for_update()
            .filter(_main_user_exists("organization"))
            .select_related("organization")
        )
        Item.objects.filter(pk__in=[i.pk for i in settled]).update(
            status=Item.Status.RESOLVED, resolved_at=timezone.now()
        )
        audit_events_bulk_record(
            [
                AuditEvent(
                    actor=None,
                    action="legacy.organization_review_resolved",
                    organization=item.organization,
                    details={"kind": item.kind, "resolution": "main_user_present"},
                )
                for item in settled
            ]
        )
    return len(settled)


def _lock_open(item: OrganizationReviewItem, kind: str) -> OrganizationReviewItem:
    item = Item.objects.select_for_update().select_related("organization").get(pk=item.pk)
    if item.kind != kind:
        raise ApplicationError(MSG_ITEM_KIND, code="review_item_kind")
    if item.status != Item.Status.OPEN:
        raise ApplicationError(MSG_ITEM_RESOLVED, code="review_item_resolved")
    return item


def _resolve(item: OrganizationReviewItem, actor: User | None, **details) -> None:
    item.status = Item.Status.RESOLVED
    item.resolved_at = timezone.now()
    item.resolved_by = actor_user(actor)
    item.save(update_fields=["status", "resolved_at", "resolved_by", "chosen_name"])
    audit_event_record(
        actor=actor,
        action="legacy.organization_review_resolved",
        organization=item.organization,
        details={"kind": item.kind, **details},
    )


@transaction.atomic
def organization_name_choose(
    *, item: OrganizationReviewItem, name: str, actor: User | None
) -> Organization:
    """Staff choose the organization's name among the names the legacy data gives; the
    organization is renamed (a later merge never renames it back) and the item closes."""
    item = _lock_open(item, Item.Kind.NAME_CONFLICT)
    name = " ".join((name or "").split())
    if name not in {c["name"] for c in item.candidates}:
        raise ApplicationError(MSG_NAME_NOT_A_CANDIDATE, code="name_not_a_candidate")
    organization = Organization.objects.select_for_update().get(pk=item.organization_id)
    old = organization.name
    if old != name:
        organization.name = name
        organization.save(update_fields=["name"])
    audit_event_record(
        actor=actor,
        action="organization.name_chosen",
        organization=organization,
        details={"from": old, "to": name, "candidates": [c["name"] for c in item.candidates]},
    )
    item.organization = organization
    item.chosen_name = name
    _resolve(item, actor, resolution="name_chosen", name=name)
    return organization


@transaction.atomic
def organization_main_user_appoint(
    *,
    item: OrganizationReviewItem,
    user: User,
    actor: User | None,
    request: HttpRequest | None = None,
) -> Membership:
    """Staff appoint the main user an organization created by the migration lacks (the
    organizations app's rules: invariant 8, pending until the email is verified when the
    access comes from legacy data); the item closes."""
    item = _lock_open(item, Item.Kind.NO_MAIN_USER)
    membership = main_user_appoint(
        organization=item.organization, user=user, actor=actor, request=request
    )
    _resolve(item, actor, resolution="main_user_appointed", user_id=user.pk)
    return membership
