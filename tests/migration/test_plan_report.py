"""The merge plan as people read it: a table in the terminal, a page in the admin."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from migration import report as plan_report
from migration.models import LegacyAccount, MergePlan
from migration.services import legacy_accounts_import, legacy_merge_plan
from posti_accounts.services import user_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Reason = LegacyAccount.ConflictReason
BID_A = "0112038-9"
BID_B = "0737546-2"


@pytest.fixture
def plan_data(service, write_csv):
    rows = [
        {
            "username": "matti",
            "email": "matti@example.fi",
            "first_name": "Matti",
            "business_id": BID_A,
            "organization_name": "Kuljetus Oy",
            "role": "admin",
        },
        {"username": "aino", "email": "aino@example.fi", "business_id": BID_B},
        {"username": "info", "email": "info@leipomo.fi", "business_id": BID_B},
        {"username": "toimisto", "email": "toimisto@leipomo.fi", "business_id": BID_B},
        {"username": "nomail", "email": ""},
        {"username": "olli", "email": "olli@example.fi"},
    ]
    legacy_accounts_import(service_code=service.code, path=write_csv(rows), start_wrap=False)
    user_create(email="olli@example.fi", password="x" * 20)


@pytest.fixture
def staff_client(client, settings):
    settings.ADMIN_REQUIRE_2FA = False

    def login(language: str):
        staff = UserFactory(is_staff=True, is_superuser=True, preferred_language=language)
        client.force_login(staff)
        return client

    return login


def _value(out: str, label: str) -> str:
    match = re.search(rf"^\s+{re.escape(label)}\s+(\S+)$", out, re.MULTILINE)
    assert match, f"no row {label!r} in:\n{out}"
    return match.group(1)


def test_dry_run_prints_a_table_not_json(plan_data, capsys):
    call_command("merge_legacy_accounts", "--dry-run", "--language", "en")
    out = capsys.readouterr().out
    assert "{" not in out and '"identities"' not in out
    assert "Merge plan" in out and "dry run" in out
    assert _value(out, "Identities to create") == "2"
    assert _value(out, "Identities joining an existing user") == "1"
    assert _value(out, "Organizations to create") == "2"
    assert _value(out, "Memberships") == "2"
    assert _value(out, "Main users") == "1"
    assert _value(out, "Shared mailbox used as a personal login") == "2"
    assert _value(out, "Email address missing") == "1"
    assert _value(out, "Organizations needing a main user") == "1"
    assert BID_B in out  # the organizations needing a main user are listed


def test_dry_run_table_in_finnish_by_default(plan_data, capsys):
    call_command("merge_legacy_accounts", "--dry-run")
    out = capsys.readouterr().out
    assert _value(out, "Luotavat identiteetit") == "2"
    assert _value(out, "Yhteistä postilaatikkoa käytetään henkilökohtaisena tunnuksena") == "2"


def test_sections_cover_every_key_of_the_report(plan_data):
    report = legacy_merge_plan().report
    sections = plan_report.plan_sections(report)
    shown = {row.key for section in sections for row in section.rows}
    for key, value in report["plan"].items():
        if isinstance(value, dict):
            assert {f"{key}.{sub}" for sub in value} <= shown
        elif not isinstance(value, list):
            assert key in shown


def test_unknown_keys_are_shown_not_dropped():
    sections = plan_report.plan_sections({"plan": {"something_new": 3, "new_group": {"x": 1}}})
    shown = {row.key: row.value for section in sections for row in section.rows}
    assert shown == {"something_new": 3, "new_group.x": 1}


def test_admin_page_shows_the_plan_with_links_to_the_review_queue(plan_data, staff_client):
    plan = legacy_merge_plan()
    staff_client = staff_client("en")
    response = staff_client.get(reverse("admin:migration_mergeplan_change", args=[plan.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '"identities_to_create"' not in html  # no raw JSON
    assert "Identities to create" in html
    queue = reverse("admin:migration_legacyconflict_changelist")
    link = f'href="{queue}?conflict_reason=shared_mailbox"'
    assert link in html
    assert re.search(re.escape(link) + r"[^>]*>\s*2\s*</a>", html)
    orgs = reverse("admin:organizations_organization_changelist")
    assert f'href="{orgs}?main_user=none"' in html
    # The link opens the queue filtered by that reason.
    listed = staff_client.get(queue, {"conflict_reason": "shared_mailbox"})
    assert {a.username for a in listed.context["cl"].result_list} == {"info", "toimisto"}


def test_admin_page_in_swedish(plan_data, staff_client):
    plan = legacy_merge_plan()
    html = (
        staff_client("sv").get(reverse("admin:migration_mergeplan_change", args=[plan.pk])).content
    )
    assert "Gemensam brevlåda används som personligt användarnamn" in html.decode()


def test_applied_merge_prints_what_was_done(plan_data, capsys):
    call_command("merge_legacy_accounts", "--language", "en")
    out = capsys.readouterr().out
    assert "Merge applied" in out
    assert _value(out, "Accounts merged") == "3"
    assert MergePlan.objects.get().applied


def test_warnings_link_to_what_they_are_about():
    report = {
        "plan": {
            "persons_only_inactive": 4,
            "warnings": {
                "business_id_invalid": 2,
                "name_mismatch": 1,
                "organization_name_conflict": 3,
            },
        }
    }
    rows = {row.key: row for s in plan_report.plan_sections(report) for row in s.rows}
    assert rows["persons_only_inactive"].value == 4
    accounts = reverse("admin:migration_legacyaccount_changelist")
    assert rows["warnings.business_id_invalid"].url == f"{accounts}?business_id_valid__exact=0"
    assert rows["warnings.name_mismatch"].url == f"{accounts}?warning=name_mismatch"
    reviews = reverse("admin:migration_organizationreviewitem_changelist")
    assert rows["warnings.organization_name_conflict"].url == (
        f"{reviews}?kind=name_conflict&status=open"
    )
    with translation.override("fi"):
        assert "Virheellinen Y-tunnus" in str(rows["warnings.business_id_invalid"].label)
