"""Disabled legacy accounts (issue 12, finding 7): an account the old service marks inactive
never authenticates and never grants access; a re-import that deactivates an account deletes
its password hash and records it in the audit trail."""

from __future__ import annotations

import csv

import passlib.hash as ph
import pytest
from django.contrib.auth import authenticate

from migration.models import LegacyAccount
from migration.services import legacy_accounts_import, legacy_accounts_merge
from organizations.models import EService, Membership
from posti_accounts.models import AuditEvent, User

pytestmark = pytest.mark.django_db

EMAIL = "liisa.laine@yritys.fi"
HEADER = ["username", "email", "business_id", "organization_name", "password_hash", "active"]


@pytest.fixture
def services(db):
    return [
        EService.objects.get_or_create(
            code=code, defaults={"name_fi": code, "name_sv": code, "name_en": code}
        )[0]
        for code in ("lahetykset", "laskutus")
    ]


@pytest.fixture
def export(tmp_path):
    counter = {"n": 0}

    def write(rows):
        counter["n"] += 1
        path = tmp_path / f"export{counter['n']}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
        return path

    return write


def _import(code, path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        legacy_accounts_import(service_code=code, path=path)


def test_inactive_account_of_a_merged_person_never_logs_in(
    services, export, rf, django_capture_on_commit_callbacks
):
    first, second = services
    _import(
        first.code,
        export([["liisa", EMAIL, "1234567-1", "Yritys Oy", ph.hex_md5.hash("aktiivinen-1"), "1"]]),
        django_capture_on_commit_callbacks,
    )
    _import(
        second.code,
        export([["ll", EMAIL, "1234567-1", "Yritys Oy", ph.hex_md5.hash("suljettu-22"), "0"]]),
        django_capture_on_commit_callbacks,
    )
    legacy_accounts_merge()
    user = User.objects.get(email=EMAIL)
    request = rf.post("/accounts/login/")
    assert authenticate(request, email=EMAIL, password="aktiivinen-1") == user
    assert authenticate(request, email=EMAIL, password="suljettu-22") is None
    closed = LegacyAccount.objects.get(service=second, username="ll")
    assert closed.password_hash == ""
    membership = Membership.objects.get(user=user)
    assert list(membership.services.values_list("code", flat=True)) == [first.code]


def test_reimport_that_deactivates_a_merged_account_ends_its_password(
    services, export, rf, django_capture_on_commit_callbacks
):
    service = services[0]
    row = ["liisa", EMAIL, "1234567-1", "Yritys Oy", ph.hex_md5.hash("vanha-salasana"), "1"]
    _import(service.code, export([row]), django_capture_on_commit_callbacks)
    legacy_accounts_merge()
    user = User.objects.get(email=EMAIL)
    request = rf.post("/accounts/login/")
    assert authenticate(request, email=EMAIL, password="vanha-salasana") == user

    _import(service.code, export([[*row[:5], "0"]]), django_capture_on_commit_callbacks)

    account = LegacyAccount.objects.get(service=service, username="liisa")
    assert account.is_active is False
    assert account.password_hash == ""
    assert account.hash_salt == ""
    assert account.credentials_discarded_at is not None
    assert authenticate(request, email=EMAIL, password="vanha-salasana") is None
    event = AuditEvent.objects.get(action="legacy.account_deactivated", target_user=user)
    assert event.details == {"service": service.code, "username": "liisa"}
    imported = AuditEvent.objects.filter(action="legacy.imported").latest("id")
    assert imported.details["deactivated"] == 1

    # A still newer export that reactivates it does not bring the old password back.
    _import(service.code, export([row]), django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert account.is_active is True
    assert account.password_hash == ""
    assert authenticate(request, email=EMAIL, password="vanha-salasana") is None


def test_person_with_only_inactive_accounts_gets_no_identity(
    services, export, django_capture_on_commit_callbacks
):
    _import(
        services[0].code,
        export([["liisa", EMAIL, "1234567-1", "Yritys Oy", ph.hex_md5.hash("vanha-1"), "0"]]),
        django_capture_on_commit_callbacks,
    )
    legacy_accounts_merge()
    assert not User.objects.filter(email=EMAIL).exists()
    assert LegacyAccount.objects.get(username="liisa").password_hash == ""
