"""The merge rules of the second pass (issue 14), on both apply paths.

- An organization's problem (names that disagree, an invalid business ID, no main user) never
  holds back its people: they merge, and the organization gets a review item.
- All or nothing per person: the accounts of one normalized email merge together.
- Inactive legacy accounts give no access; a person with only inactive ones is reported,
  not created.
"""

from __future__ import annotations

import pytest

from kernel.errors import ApplicationError
from migration.models import LegacyAccount, OrganizationReviewItem
from migration.services import apply as merge_apply
from migration.services import (
    legacy_accounts_import,
    legacy_accounts_merge,
    legacy_merge_plan,
    organization_main_user_appoint,
    organization_name_choose,
)
from organizations.models import EService, Membership, Organization
from organizations.services import main_user_appoint
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import user_create

pytestmark = pytest.mark.django_db
Kind = OrganizationReviewItem.Kind
BID_A = "0112038-9"
BID_B = "0737546-2"
EMAIL = "liisa.laine@yritys.fi"


@pytest.fixture(params=["orm", pytest.param("sql", marks=pytest.mark.postgres)])
def merge_path(request, settings):
    """Run the test once on the ORM path and once on the set-based SQL path (PostgreSQL)."""
    from django.db import connection

    use_sql = request.param == "sql"
    if connection.vendor == "postgresql":
        settings.LEGACY_MERGE_SQL = use_sql
    assert merge_apply._use_sql() is use_sql
    return request.param


@pytest.fixture
def four_services(service, service2):
    extra = [
        EService.objects.get_or_create(
            code=code, defaults={"name_fi": code, "name_sv": code, "name_en": code}
        )[0]
        for code in ("tilaukset", "seuranta")
    ]
    return [service, service2, *extra]


def _load(service, write_csv, rows):
    legacy_accounts_import(service_code=service.code, path=write_csv(rows), start_wrap=False)


def _person_in_four_services(four_services, write_csv, *, third_bid=BID_A):
    s1, s2, s3, s4 = four_services
    _load(
        s1,
        write_csv,
        [
            {
                "username": "liisa",
                "email": " Liisa.Laine@Yritys.FI ",
                "first_name": "Liisa",
                "last_name": "Laine",
                "business_id": BID_A,
                "organization_name": "Kuljetus Oy",
                "role": "admin",
                "last_login": "01.01.2022 10:00",
            },
            {
                "username": "pekka",
                "email": "pekka@yritys.fi",
                "business_id": BID_A,
                "organization_name": "Kuljetus Oy",
            },
        ],
    )
    _load(
        s2,
        write_csv,
        [
            {
                "username": "LLAINE",
                "email": "LIISA.LAINE@yritys.fi",
                "first_name": "Liisa",
                "last_name": "Laine",
                "business_id": BID_A,
                "organization_name": "Kuljetus ja Logistiikka Oy",  # renamed since
                "last_login": "2024-05-02T09:00:00",
            }
        ],
    )
    _load(
        s3,
        write_csv,
        [
            {
                "username": "l.laine",
                "email": "liisa.laine@yritys.fi ",
                "business_id": third_bid,
                "organization_name": "Kuljetus Oy",
            }
        ],
    )
    _load(s4, write_csv, [{"username": "liisa77", "email": "<Liisa.Laine@yritys.fi>"}])


def test_a_renamed_organization_never_holds_back_its_people(merge_path, four_services, write_csv):
    """One person, four services, one of them with the organization's newer name: all four
    accounts merge into one identity, the organization takes its most recently used name,
    and the disagreement is a review item on the organization."""
    _person_in_four_services(four_services, write_csv)
    plan = legacy_merge_plan().report["plan"]
    assert plan["conflicts"] == {}
    assert plan["warnings"]["organization_name_conflict"] == 1

    legacy_accounts_merge(batch_size=1)

    user = User.objects.get(email=EMAIL)
    assert LegacyAccount.objects.filter(user=user, state="merged").count() == 4
    assert not LegacyAccount.objects.exclude(state="merged").exists()
    org = Organization.objects.get(business_id=BID_A)
    assert org.name == "Kuljetus ja Logistiikka Oy"
    membership = Membership.objects.get(user=user, organization=org)
    assert membership.role == Membership.Role.MAIN_USER
    assert set(membership.services.values_list("code", flat=True)) == {
        s.code for s in four_services[:3]
    }
    assert Membership.objects.get(user__email="pekka@yritys.fi").organization == org
    item = OrganizationReviewItem.objects.get(organization=org)
    assert (item.kind, item.status) == (Kind.NAME_CONFLICT, OrganizationReviewItem.Status.OPEN)
    names = {c["name"]: c for c in item.candidates}
    assert set(names) == {"Kuljetus Oy", "Kuljetus ja Logistiikka Oy"}
    assert names["Kuljetus Oy"]["services"] == sorted(
        [four_services[0].code, four_services[2].code]
    )
    assert names["Kuljetus Oy"]["accounts"] == 3
    assert names["Kuljetus ja Logistiikka Oy"]["services"] == [four_services[1].code]
    assert names["Kuljetus ja Logistiikka Oy"]["last_used"].startswith("2024-05-02")
    assert item.chosen_name == ""

    # Idempotent: a second run opens no second item and changes nothing.
    assert legacy_accounts_merge().report["applied"]["accounts_merged"] == 0
    assert OrganizationReviewItem.objects.count() == 1


def test_an_invalid_business_id_never_holds_back_the_person(merge_path, four_services, write_csv):
    _person_in_four_services(four_services, write_csv, third_bid="1234567-8")
    plan = legacy_merge_plan().report["plan"]
    assert plan["conflicts"] == {}
    assert plan["warnings"]["business_id_invalid"] == 1
    legacy_accounts_merge()
    user = User.objects.get(email=EMAIL)
    assert LegacyAccount.objects.filter(user=user, state="merged").count() == 4
    membership = Membership.objects.get(user=user)
    assert set(membership.services.values_list("code", flat=True)) == {
        four_services[0].code,
        four_services[1].code,
    }


def test_organization_without_main_user_gets_a_review_item(merge_path, service, write_csv):
    _load(
        service,
        write_csv,
        [
            {"username": u, "email": f"{u}@i.fi", "business_id": BID_B, "organization_name": "I"}
            for u in ("a", "b")
        ],
    )
    applied = legacy_accounts_merge().report["applied"]
    org = Organization.objects.get(business_id=BID_B)
    assert Membership.objects.filter(organization=org).count() == 2
    assert applied["organization_reviews_opened"] == 1
    item = OrganizationReviewItem.objects.get(organization=org)
    assert (item.kind, item.status) == (Kind.NO_MAIN_USER, OrganizationReviewItem.Status.OPEN)
    legacy_accounts_merge()
    assert OrganizationReviewItem.objects.count() == 1


def test_person_with_only_inactive_accounts_is_reported_not_created(service, service2, write_csv):
    _load(
        service,
        write_csv,
        [
            {"username": "old", "email": "vanha@example.fi", "active": "0"},
            {"username": "both", "email": "Kumpi@example.fi", "active": "false"},
            {"username": "act", "email": "aktiivi@example.fi", "active": "1"},
        ],
    )
    _load(
        service2,
        write_csv,
        [
            {
                "username": "both2",
                "email": "kumpi@example.fi",
                "business_id": BID_A,
                "organization_name": "A Oy",
            }
        ],
    )
    plan = legacy_merge_plan().report["plan"]
    assert plan["identities"] == 2
    assert plan["accounts_inactive_skipped"] == 2
    assert plan["persons_only_inactive"] == 1
    applied = legacy_accounts_merge()
    assert applied.report["plan"]["persons_only_inactive"] == 1
    assert not User.objects.filter(email="vanha@example.fi").exists()
    kumpi = User.objects.get(email="kumpi@example.fi")
    # The inactive account gives nothing: not linked, no membership or service from it.
    assert LegacyAccount.objects.get(username="both").user is None
    assert list(Membership.objects.get(user=kumpi).services.values_list("code", flat=True)) == [
        service2.code
    ]


def _renamed_org(service, service2, write_csv):
    _load(
        service,
        write_csv,
        [
            {
                "username": "a",
                "email": "a@kuljetus.fi",
                "business_id": BID_A,
                "organization_name": "Vanha Oy",
                "role": "admin",
                "last_login": "01.01.2020 10:00",
            }
        ],
    )
    _load(
        service2,
        write_csv,
        [
            {
                "username": "b",
                "email": "b@kuljetus.fi",
                "business_id": BID_A,
                "organization_name": "Uusi Oy",
                "last_login": "01.01.2024 10:00",
            }
        ],
    )
    legacy_accounts_merge()
    return OrganizationReviewItem.objects.get(kind=Kind.NAME_CONFLICT)


def test_staff_choose_the_organization_name_audited(service, service2, write_csv, user):
    item = _renamed_org(service, service2, write_csv)
    assert item.organization.name == "Uusi Oy"
    organization_name_choose(item=item, name="Vanha Oy", actor=user)
    item.refresh_from_db()
    assert item.organization.name == "Vanha Oy"
    assert item.status == OrganizationReviewItem.Status.RESOLVED
    assert (item.chosen_name, item.resolved_by) == ("Vanha Oy", user)
    event = AuditEvent.objects.get(action="organization.name_chosen")
    assert event.actor == user and event.organization == item.organization
    assert event.details["from"] == "Uusi Oy" and event.details["to"] == "Vanha Oy"
    # A later merge does not rename it back.
    legacy_accounts_merge()
    assert Organization.objects.get(business_id=BID_A).name == "Vanha Oy"
    with pytest.raises(ApplicationError):
        organization_name_choose(item=item, name="Uusi Oy", actor=user)


def test_only_a_name_the_data_gives_can_be_chosen(service, service2, write_csv, user):
    item = _renamed_org(service, service2, write_csv)
    with pytest.raises(ApplicationError) as raised:
        organization_name_choose(item=item, name="Keksitty Oy", actor=user)
    assert raised.value.code == "name_not_a_candidate"
    item.refresh_from_db()
    assert item.status == OrganizationReviewItem.Status.OPEN
    assert item.organization.name == "Uusi Oy"


def test_staff_appoint_the_main_user_and_the_item_closes(service, write_csv, user):
    _load(
        service,
        write_csv,
        [{"username": "a", "email": "a@ilman.fi", "business_id": BID_B, "organization_name": "I"}],
    )
    legacy_accounts_merge()
    item = OrganizationReviewItem.objects.get(kind=Kind.NO_MAIN_USER)
    member = User.objects.get(email="a@ilman.fi")
    membership = organization_main_user_appoint(item=item, user=member, actor=user)
    assert membership.role == Membership.Role.MAIN_USER
    item.refresh_from_db()
    assert item.status == OrganizationReviewItem.Status.RESOLVED
    assert item.resolved_by == user
    assert AuditEvent.objects.filter(action="legacy.organization_review_resolved").exists()
    with pytest.raises(ApplicationError):
        organization_main_user_appoint(item=item, user=member, actor=user)


def test_no_main_user_item_closes_when_one_is_appointed_elsewhere(service, write_csv, user):
    _load(
        service,
        write_csv,
        [{"username": "a", "email": "a@ilman.fi", "business_id": BID_B, "organization_name": "I"}],
    )
    legacy_accounts_merge()
    org = Organization.objects.get(business_id=BID_B)
    staff = user_create(email="paakayttaja@ilman.fi", email_verified=True)
    main_user_appoint(organization=org, user=staff, actor=user)
    legacy_merge_plan()  # a dry run changes no item
    assert OrganizationReviewItem.objects.get(organization=org).status == "open"
    legacy_accounts_merge()
    item = OrganizationReviewItem.objects.get(organization=org)
    assert item.status == OrganizationReviewItem.Status.RESOLVED
    assert item.resolved_by is None


@pytest.mark.postgres
def test_a_column_the_sql_merge_cannot_fill_stops_it_naming_the_column(
    service, write_csv, monkeypatch
):
    """No silent fallback to the ORM path: PostgreSQL runs the set-based merge or none."""
    from migration.services import apply_sql

    _load(service, write_csv, [{"username": "a", "email": "a@example.fi"}])
    monkeypatch.delitem(apply_sql._EMAIL_GIVEN, "user")  # as if a new NOT NULL column came
    with pytest.raises(ApplicationError) as raised:
        legacy_accounts_merge()
    assert raised.value.code == "merge_schema_unsupported"
    assert "account_emailaddress.user_id" in str(raised.value.message)
    assert not User.objects.exists()
    assert LegacyAccount.objects.get().state == "imported"


def test_the_orm_path_never_checks_the_sql_schema(service, write_csv, monkeypatch, settings):
    """Other databases (or LEGACY_MERGE_SQL = False) run the ORM path, whatever the SQL
    path could fill."""
    from migration.services import apply_sql

    settings.LEGACY_MERGE_SQL = False
    _load(service, write_csv, [{"username": "a", "email": "a@example.fi"}])
    monkeypatch.delitem(apply_sql._EMAIL_GIVEN, "user")
    legacy_accounts_merge()
    assert User.objects.filter(email="a@example.fi").exists()


def test_admin_staff_choose_the_name_on_the_review_item(
    service, service2, write_csv, admin_client, admin_user, settings
):
    from django.urls import reverse

    settings.ADMIN_REQUIRE_2FA = False
    item = _renamed_org(service, service2, write_csv)
    listing = admin_client.get(reverse("admin:migration_organizationreviewitem_changelist"))
    assert listing.status_code == 200 and "Uusi Oy" in listing.content.decode()
    url = reverse("admin:migration_organizationreviewitem_change", args=[item.pk])
    page = admin_client.get(url).content.decode()
    assert "Vanha Oy" in page and "Uusi Oy" in page and service.code in page
    response = admin_client.post(url, {"chosen": "Vanha Oy"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.organization.name == "Vanha Oy" and item.resolved_by == admin_user
    assert item.status == OrganizationReviewItem.Status.RESOLVED


def test_admin_staff_appoint_the_main_user_on_the_review_item(
    service, write_csv, admin_client, admin_user, settings
):
    from django.urls import reverse

    settings.ADMIN_REQUIRE_2FA = False
    _load(
        service,
        write_csv,
        [{"username": "a", "email": "a@ilman.fi", "business_id": BID_B, "organization_name": "I"}],
    )
    legacy_accounts_merge()
    item = OrganizationReviewItem.objects.get(kind=Kind.NO_MAIN_USER)
    member = User.objects.get(email="a@ilman.fi")
    url = reverse("admin:migration_organizationreviewitem_change", args=[item.pk])
    assert "a@ilman.fi" in admin_client.get(url).content.decode()
    assert admin_client.post(url, {"main_user": member.pk}).status_code == 302
    item.refresh_from_db()
    assert item.status == OrganizationReviewItem.Status.RESOLVED
    assert Membership.objects.get(user=member).role == Membership.Role.MAIN_USER
