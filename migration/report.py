"""The merge plan report as people read it: labelled sections of numbers, each conflict and
warning by its reason, with the admin list the number stands for (the review queue filtered
by that reason). The management command prints it as a table; the admin renders it as a page.

The report itself is the JSON a plan stores (`MergePlan.report`: `{"plan": ..., "applied":
...}`); keys this module has no label for are still shown, under their own name, so a number
the merge adds is never silently left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .models import LegacyAccount

Reason = LegacyAccount.ConflictReason


@dataclass(frozen=True)
class PlanRow:
    key: str
    label: Any  # a lazy translation, or the key itself
    value: Any
    url: str = ""  # the admin list the number stands for


@dataclass
class PlanSection:
    key: str
    title: Any
    rows: list[PlanRow] = field(default_factory=list)
    # (business ID, name) of the organizations needing a main user, and the like
    items: list[tuple[str, str]] = field(default_factory=list)
    items_title: Any = ""


def _queue(reason: str) -> str:
    return (
        reverse("admin:migration_legacyconflict_changelist")
        + "?"
        + urlencode({"conflict_reason": reason})
    )


def _accounts(**lookups: str) -> str:
    return reverse("admin:migration_legacyaccount_changelist") + "?" + urlencode(lookups)


def _organizations_without_main_user() -> str:
    return reverse("admin:organizations_organization_changelist") + "?main_user=none"


# (report key, label, link) per section, in the order people read them.
_PEOPLE = [
    ("identities", _("Identities (one per email address)"), None),
    ("identities_to_create", _("Identities to create"), None),
    ("identities_joining_existing_users", _("Identities joining an existing user"), None),
    ("accounts_to_merge", _("Legacy accounts to merge"), lambda: _accounts(state="imported")),
    ("accounts_already_merged", _("Legacy accounts merged already"), None),
    (
        "accounts_inactive_skipped",
        _("Inactive legacy accounts (no access, no membership)"),
        lambda: _accounts(is_active__exact="0"),
    ),
    ("persons_only_inactive", _("Persons with inactive accounts only (not created)"), None),
]
_ORGANIZATIONS = [
    ("organizations_to_create", _("Organizations to create"), None),
    ("organizations_existing", _("Organizations existing already"), None),
    ("memberships", _("Memberships"), None),
    ("main_users", _("Main users"), None),
    (
        "organizations_without_main_user_count",
        _("Organizations needing a main user"),
        _organizations_without_main_user,
    ),
]
_APPLIED = [
    ("identities", _("Identities merged"), None),
    ("users_created", _("Users created"), None),
    ("users_linked", _("Existing users joined"), None),
    ("organizations_created", _("Organizations created"), None),
    ("memberships_created", _("Memberships created"), None),
    ("accounts_merged", _("Accounts merged"), None),
]
WARNING_LABELS = {
    "name_mismatch": _("One email address with different names (the latest name is used)"),
    "organization_name_conflict": _(
        "One business ID with different organization names (the latest name is used)"
    ),
    "business_id_invalid": _("Invalid business ID (the person merges without the organization)"),
}


def _review_items(**lookups: str) -> str:
    """The organization review items (names that disagree, no main user), if their admin
    list exists."""
    try:
        url = reverse("admin:migration_organizationreviewitem_changelist")
    except NoReverseMatch:
        return ""
    return url + "?" + urlencode(lookups)


# The admin list behind each warning (the affected accounts or organizations).
_WARNING_LINKS = {
    "name_mismatch": lambda: _accounts(warning="name_mismatch"),
    "organization_name_conflict": lambda: _review_items(kind="name_conflict", status="open"),
    "business_id_invalid": lambda: _accounts(business_id_valid__exact="0"),
}
# Lists of the report shown under a section, with their section and item fields.
_LISTS = {
    "organizations_without_main_user": ("organizations", _("Organizations needing a main user")),
    "persons_only_inactive_list": ("people", _("Persons with inactive accounts only")),
}


def _reason_label(reason: str) -> Any:
    try:
        return Reason(reason).label
    except ValueError:
        return reason


def _rows(data: dict[str, Any], spec, used: set[str]) -> list[PlanRow]:
    rows = []
    for key, label, link in spec:
        if key in data and not isinstance(data[key], list | dict):
            rows.append(PlanRow(key, label, data[key], link() if link else ""))
            used.add(key)
    return rows


def _list_items(value: list) -> list[tuple[str, str]]:
    items = []
    for entry in value:
        if isinstance(entry, dict):
            first = entry.get("business_id") or entry.get("email") or ""
            items.append((str(first), str(entry.get("name", ""))))
        else:
            items.append((str(entry), ""))
    return items


def plan_sections(report: dict[str, Any]) -> list[PlanSection]:
    """The sections of a stored plan report, in reading order; empty sections left out."""
    plan = report.get("plan", {})
    used: set[str] = set()
    people = PlanSection("people", _("People"), _rows(plan, _PEOPLE, used))
    organizations = PlanSection(
        "organizations", _("Organizations"), _rows(plan, _ORGANIZATIONS, used)
    )
    conflicts = PlanSection(
        "conflicts",
        _("Conflicts by reason (not merged until reviewed)"),
        [
            PlanRow(f"conflicts.{reason}", _reason_label(reason), count, _queue(reason))
            for reason, count in sorted(plan.get("conflicts", {}).items())
        ],
    )
    warnings = PlanSection(
        "warnings",
        _("Warnings by reason (merged)"),
        [
            PlanRow(
                f"warnings.{name}",
                WARNING_LABELS.get(name, name),
                count,
                _WARNING_LINKS.get(name, lambda name=name: _accounts(warning=name))(),
            )
            for name, count in sorted(plan.get("warnings", {}).items())
        ],
    )
    used.update({"conflicts", "warnings"})
    sections = {s.key: s for s in (people, organizations, conflicts, warnings)}
    for key, (section_key, title) in _LISTS.items():
        value = plan.get(key)
        if isinstance(value, list):
            used.add(key)
            if value:
                sections[section_key].items = _list_items(value)
                sections[section_key].items_title = title
    other = PlanSection("other", _("Other figures"))
    for key, value in plan.items():
        if key in used:
            continue
        if isinstance(value, dict):
            other.rows.extend(
                PlanRow(f"{key}.{sub}", f"{key}: {sub}", v) for sub, v in value.items()
            )
        elif not isinstance(value, list):
            other.rows.append(PlanRow(key, key, value))
    result = [people, organizations, conflicts, warnings, other]
    applied = report.get("applied")
    if isinstance(applied, dict):
        done: set[str] = set()
        section = PlanSection("applied", _("Applied"), _rows(applied, _APPLIED, done))
        section.rows.extend(PlanRow(k, k, v) for k, v in applied.items() if k not in done)
        result.append(section)
    return [s for s in result if s.rows or s.items]


def plan_table_lines(report: dict[str, Any], *, list_limit: int = 20) -> list[str]:
    """The report as plain-text lines: a title per section, label and value aligned."""
    sections = plan_sections(report)
    width = max((len(str(capfirst(row.label))) for s in sections for row in s.rows), default=0)
    lines: list[str] = []
    for section in sections:
        lines.append("")
        lines.append(str(section.title))
        for row in section.rows:
            lines.append(f"  {str(capfirst(row.label)).ljust(width)}  {row.value}")
        if section.items:
            lines.append(f"  {section.items_title}:")
            for first, name in section.items[:list_limit]:
                lines.append(f"    {first}  {name}".rstrip())
            if len(section.items) > list_limit:
                lines.append(
                    "    "
                    + str(_("… and %(count)s more (in the admin)"))
                    % {"count": len(section.items) - list_limit}
                )
    return lines
