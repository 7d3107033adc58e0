"""Realistic exports through import and merge, on both apply paths: cp1252 with semicolons,
UTF-8 with a BOM, JSON Lines; a renamed organization, inactive accounts, a shared mailbox
and case/whitespace variants of one email. PostgreSQL also proves the two paths write the
same rows (runs in CI with REQUIRE_SERVICES=1: fails, never skips, without PostgreSQL)."""

from __future__ import annotations

import pytest

from migration.models import LegacyAccount, OrganizationReviewItem
from migration.services import apply as merge_apply
from migration.services import legacy_accounts_import, legacy_accounts_merge, legacy_merge_plan
from organizations.models import EService, Membership, Organization
from posti_accounts.models import User
from tests.migration.test_merge import _full_snapshot

pytestmark = pytest.mark.django_db
BID_A = "0112038-9"
BID_B = "0737546-2"
PAIVI = "paivi.koski@example.fi"


@pytest.fixture(params=["orm", pytest.param("sql", marks=pytest.mark.postgres)])
def merge_path(request, settings):
    from django.db import connection

    use_sql = request.param == "sql"
    if connection.vendor == "postgresql":
        settings.LEGACY_MERGE_SQL = use_sql
    assert merge_apply._use_sql() is use_sql
    return request.param


@pytest.fixture
def mixed_exports(service, service2, write_csv, write_jsonl):
    seuranta = EService.objects.get_or_create(
        code="seuranta", defaults={"name_fi": "Seuranta", "name_sv": "Spårning", "name_en": "T"}
    )[0]
    # An old Windows export: cp1252, semicolons, Finnish dates.
    path = write_csv(
        [
            {
                "username": "pkoski",
                "email": " Paivi.Koski@Example.FI ",
                "first_name": "Päivi",
                "last_name": "Köski",
                "business_id": BID_A,
                "organization_name": "Kuljetus Öljynen Oy",
                "role": "pääkäyttäjä",
                "last_login": "01.02.2021 08:00",
            },
            {
                "username": "toimisto",
                "email": "Toimisto@Yritys.fi",
                "business_id": BID_A,
                "organization_name": "Kuljetus Öljynen Oy",
            },
            {"username": "vanha", "email": "vanha.aarne@example.fi", "active": "0"},
            {
                "username": "eino",
                "email": "eino@example.fi",
                "business_id": BID_A,
                "organization_name": "Kuljetus Öljynen Oy",
                "active": "ei",
            },
        ],
        delimiter=";",
        encoding="cp1252",
    )
    legacy_accounts_import(
        service_code=service.code, path=path, encoding="cp1252", start_wrap=False
    )
    # UTF-8 with a BOM, after the company was renamed.
    path = write_csv(
        [
            {
                "username": "PAIVI",
                "email": "PAIVI.KOSKI@example.fi",
                "first_name": "Päivi",
                "last_name": "Koski-Lehto",
                "business_id": BID_A,
                "organization_name": "Öljynen Logistiikka Oy",
                "last_login": "2024-03-04T10:00:00",
            },
            {
                "username": "toimisto2",
                "email": " toimisto@yritys.fi",
                "business_id": BID_A,
                "organization_name": "Öljynen Logistiikka Oy",
            },
            {
                "username": "eino2",
                "email": "Eino@Example.fi",
                "business_id": BID_A,
                "organization_name": "Öljynen Logistiikka Oy",
            },
            {"username": "huono", "email": "ei-osoite"},
        ],
        bom=True,
    )
    legacy_accounts_import(service_code=service2.code, path=path, start_wrap=False)
    # JSON Lines: a consumer account of the same person, and a company with no main user.
    path = write_jsonl(
        [
            {"username": "paivi77", "email": "<paivi.koski@EXAMPLE.fi>", "active": True},
            {
                "Username": "ville",
                "Email": "ville@paja.fi",
                "full_name": "Ville Vähä",
                "business_id": BID_B,
                "organization_name": "Paja Ab",
            },
        ]
    )
    legacy_accounts_import(service_code=seuranta.code, path=path, start_wrap=False)
    return service, service2, seuranta


def test_mixed_exports_merge_by_the_rules(merge_path, mixed_exports):
    service, service2, seuranta = mixed_exports
    plan = legacy_merge_plan().report["plan"]
    assert plan["conflicts"] == {"email_invalid": 1, "shared_mailbox": 2}
    assert plan["persons_only_inactive"] == 1  # vanha.aarne (eino has an active one too)
    assert plan["warnings"]["organization_name_conflict"] == 1
    assert plan["identities"] == 3  # päivi, eino, ville

    legacy_accounts_merge(batch_size=1)

    paivi = User.objects.get(email=PAIVI)
    assert (paivi.first_name, paivi.last_name) == ("Päivi", "Koski-Lehto")  # most recent
    assert set(LegacyAccount.objects.filter(user=paivi).values_list("username", flat=True)) == {
        "pkoski",
        "PAIVI",
        "paivi77",
    }
    org = Organization.objects.get(business_id=BID_A)
    assert org.name == "Öljynen Logistiikka Oy"
    membership = Membership.objects.get(user=paivi, organization=org)
    assert membership.role == Membership.Role.MAIN_USER  # "pääkäyttäjä" in cp1252
    assert set(membership.services.all()) == {service, service2}
    item = OrganizationReviewItem.objects.get(organization=org)
    assert item.kind == OrganizationReviewItem.Kind.NAME_CONFLICT
    assert [c["name"] for c in item.candidates] == [
        "Öljynen Logistiikka Oy",
        "Kuljetus Öljynen Oy",
    ]
    # The shared mailbox: both accounts wait together, nobody is created for it.
    assert set(
        LegacyAccount.objects.filter(email="toimisto@yritys.fi").values_list("state", flat=True)
    ) == {"conflict"}
    assert not User.objects.filter(email="toimisto@yritys.fi").exists()
    # Inactive: never created alone; beside an active account, no link and no service.
    assert not User.objects.filter(email="vanha.aarne@example.fi").exists()
    eino = User.objects.get(email="eino@example.fi")
    assert LegacyAccount.objects.get(username="eino").user is None
    assert set(Membership.objects.get(user=eino).services.all()) == {service2}
    # The company with no main user: its member merges, staff are asked to appoint one.
    paja = Organization.objects.get(business_id=BID_B)
    assert Membership.objects.get(organization=paja).user.last_name == "Vähä"
    assert OrganizationReviewItem.objects.get(organization=paja).kind == "no_main_user"
    assert not LegacyAccount.objects.filter(state="imported", is_active=True).exists()


@pytest.mark.postgres
def test_mixed_exports_sql_and_orm_paths_write_the_same_rows(mixed_exports, settings):
    from django.db import transaction

    class Rollback(Exception):
        pass

    results = {}
    for use_sql in (False, True):
        settings.LEGACY_MERGE_SQL = use_sql
        assert merge_apply._use_sql() is use_sql
        try:
            with transaction.atomic():
                first = legacy_accounts_merge(batch_size=1).report["applied"]
                second = legacy_accounts_merge(batch_size=1).report["applied"]
                results[use_sql] = (first, second, _full_snapshot())
                raise Rollback
        except Rollback:
            pass
    assert results[True] == results[False]
    first, second, _snapshot = results[True]
    assert first["identities"] == 3 and first["organization_reviews_opened"] == 2
    assert second["accounts_merged"] == 0 and second["organization_reviews_opened"] == 0
