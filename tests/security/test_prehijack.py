"""Account pre-hijacking (issue 12, finding 1; DESIGN invariant 8): access never flows to a
password that was set before its address was verified.

An attacker signs up with the victim's address and a password of their own. The operator's
merge then joins the victim's legacy accounts (with the main-user role) onto that account.
The victim later clicks a verification link. The attacker's password must not work at any
point after the merge, and the memberships must activate only for the victim's new password.
"""

from __future__ import annotations

import csv
import re

import passlib.hash as ph
import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from migration.services import legacy_accounts_import, legacy_accounts_merge
from organizations.models import EService, Membership, Organization
from organizations.services import main_user_appoint
from posti_accounts.models import AuditEvent, User, UserSession
from posti_accounts.services import user_create

VICTIM = "toimitusjohtaja@yritys.fi"
ATTACKER_PASSWORD = "hyokkaajan-salasana-2026"
VICTIM_NEW_PASSWORD = "uhrin-uusi-salasana-2026"
LEGACY_PASSWORD = "vanha-salasana-1"

pytestmark = pytest.mark.django_db


def _link(message) -> str:
    match = re.search(r"https?://\S+", message.body)
    assert match, message.body
    return re.sub(r"^https?://[^/]+", "", match.group(0))


def _import_victim(tmp_path):
    service = EService.objects.create(
        code="lahetykset", name_fi="Lähetykset", name_sv="Försändelser", name_en="Shipments"
    )
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["username", "email", "first_name", "last_name", "business_id",
             "organization_name", "role", "password_hash"]
        )  # fmt: skip
        writer.writerow(
            ["tj", VICTIM, "Tiina", "Johtaja", "1234567-1", "Yritys Oy", "admin",
             ph.hex_md5.hash(LEGACY_PASSWORD)]
        )  # fmt: skip
    legacy_accounts_import(service_code=service.code, path=path, start_wrap=False)


def _logs_in(client, password: str) -> bool:
    client.logout()
    client.post(reverse("account_login"), {"login": VICTIM, "password": password})
    return "_auth_user_id" in client.session


def test_merge_onto_an_unverified_signup_ends_the_attackers_password(
    client, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_signup"),
            {"email": VICTIM, "password1": ATTACKER_PASSWORD, "password2": ATTACKER_PASSWORD},
        )
    assert response.status_code == 302
    signup_link = _link(mail.outbox[-1])
    account = User.objects.get(email=VICTIM)
    assert account.has_usable_password()

    with django_capture_on_commit_callbacks(execute=True):
        _import_victim(tmp_path)
        legacy_accounts_merge()

    account.refresh_from_db()
    assert not account.has_usable_password()
    assert {"verify_email", "update_password"} <= set(account.required_actions)
    assert AuditEvent.objects.filter(
        action="credentials.reset_unverified", target_user=account
    ).exists()
    membership = Membership.objects.get(user=account)
    assert membership.role == Membership.Role.MAIN_USER
    assert membership.status == Membership.Status.PENDING

    # The victim clicks the (attacker-triggered) sign-up verification link.
    client.get(signup_link)
    client.post(signup_link)
    assert EmailAddress.objects.get(user=account).verified
    assert not _logs_in(client, ATTACKER_PASSWORD)

    # The victim logs in with their old service password and must set a new one.
    assert _logs_in(client, LEGACY_PASSWORD)
    response = client.post(
        reverse("posti_accounts:action_update_password"),
        {"password1": VICTIM_NEW_PASSWORD, "password2": VICTIM_NEW_PASSWORD},
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    assert _logs_in(client, VICTIM_NEW_PASSWORD)
    assert not _logs_in(client, ATTACKER_PASSWORD)


def test_merge_ends_the_sessions_of_an_unverified_account(client, tmp_path):
    account = user_create(email=VICTIM, password=ATTACKER_PASSWORD)
    UserSession.objects.create(session_key="x" * 32, user=account)
    _import_victim(tmp_path)
    legacy_accounts_merge()
    assert not UserSession.objects.filter(user=account).exists()


def test_merge_keeps_the_password_of_a_verified_account(tmp_path):
    account = user_create(email=VICTIM, password=VICTIM_NEW_PASSWORD, email_verified=True)
    _import_victim(tmp_path)
    legacy_accounts_merge()
    account.refresh_from_db()
    assert account.check_password(VICTIM_NEW_PASSWORD)


def test_staff_appointment_onto_an_unverified_account_ends_its_password():
    account = user_create(email=VICTIM, password=ATTACKER_PASSWORD)
    org = Organization.objects.create(name="Yritys Oy", business_id="1234567-1")
    main_user_appoint(organization=org, user=account, actor=None)
    account.refresh_from_db()
    assert not account.has_usable_password()
    assert "verify_email" in account.required_actions


def test_staff_appointment_keeps_a_verified_accounts_password():
    account = user_create(email=VICTIM, password=VICTIM_NEW_PASSWORD, email_verified=True)
    org = Organization.objects.create(name="Yritys Oy", business_id="1234567-1")
    main_user_appoint(organization=org, user=account, actor=None)
    account.refresh_from_db()
    assert account.check_password(VICTIM_NEW_PASSWORD)
