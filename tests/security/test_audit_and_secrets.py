"""Audit and secrets (issue 12, proof suite; ASVS V16.2, V16.3, V14.2).

One full journey of a person through the portal — sign-up, email confirmation, a failed and a
successful login, a password change, 2FA setup, an OpenID Connect sign-in of an e-service, an
invitation, a look at another organization's page, logout — with every logger captured at
DEBUG. Then:
- every login success and failure, authorization failure and credential or access change has
  written an AuditEvent;
- neither the captured logs nor any audit row holds a password, the TOTP secret, an OAuth
  token or code, or a link token sent by email.
"""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from organizations import services as org_services
from organizations.models import Invitation, Organization
from posti_accounts.models import AuditEvent, User
from tests.security._admin_clients import totp_code
from tests.sso.conftest import client_factory, open_eservice  # noqa: F401 (fixtures)
from tests.sso.helpers import authorize_url, code_from, exchange

pytestmark = pytest.mark.django_db

EMAIL = "kokonainen.polku@example.fi"
PASSWORD = "ensimmainen-salasana-2026"
WRONG = "vaara-arvaus-salasana-77"
NEW_PASSWORD = "toinen-oikea-salasana-2026"


def _path(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def _links(message) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", message.body)


@pytest.fixture
def journey(client, client_factory, open_eservice, capsys, django_capture_on_commit_callbacks):  # noqa: F811
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))
            if record.exc_info:
                lines.append(logging.Formatter().formatException(record.exc_info))

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        result = _journey(client, client_factory, open_eservice, django_capture_on_commit_callbacks)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    captured = capsys.readouterr()
    result["logs"] = lines + [captured.out, captured.err]
    return result


def _journey(client, client_factory, open_eservice, django_capture_on_commit_callbacks):  # noqa: F811
    secrets: dict[str, str] = {"password": PASSWORD, "wrong": WRONG, "new": NEW_PASSWORD}

    # Sign-up and confirmation by the emailed link.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_signup"),
            {"email": EMAIL, "password1": PASSWORD, "password2": PASSWORD},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    link = _links(mail.outbox[-1])[0]
    secrets["confirm_key"] = link.rstrip("/").rsplit("/", 1)[-1]
    client.post(_path(link))
    assert EmailAddress.objects.get(email=EMAIL).verified
    client.logout()

    # A failed and a successful login.
    client.post(reverse("account_login"), {"login": EMAIL, "password": WRONG})
    response = client.post(reverse("account_login"), {"login": EMAIL, "password": PASSWORD})
    assert response.status_code == 302

    # Password change (after re-authentication).
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_change_password"),
            {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
    assert response.status_code == 302
    client.post(reverse("account_login"), {"login": EMAIL, "password": NEW_PASSWORD})
    client.post(reverse("account_reauthenticate"), {"password": NEW_PASSWORD})

    # 2FA setup through the page.
    page = client.get(reverse("posti_accounts:twofactor_setup"))
    assert page.status_code == 200
    user = User.objects.get(email=EMAIL)
    device = TOTPDevice.objects.get(user=user)
    secrets["totp_hex"] = device.key
    secrets["totp_b32"] = base64.b32encode(device.bin_key).decode().rstrip("=")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("posti_accounts:twofactor_setup"), {"code": totp_code(device)}
        )
    assert response.status_code == 302, response.content.decode()[:2000]

    # An e-service signs the person in (authorization code + token exchange).
    client_id, client_secret = client_factory(open_eservice)
    secrets["client_secret"] = client_secret
    code = code_from(client.get(authorize_url(client_id, "openid email")))
    assert code, "no authorization code"
    secrets["code"] = code
    tokens = exchange(Client(), client_id, client_secret, code).json()
    secrets["access_token"] = tokens["access_token"]
    secrets["refresh_token"] = tokens["refresh_token"]

    # As main user of a new organization, an invitation.
    organization = org_services.organization_create(
        name="Polku Oy", business_id="1234567-1", actor=None, main_user=user
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("organizations:invite", args=[organization.pk]),
            {"emails": "kutsuttu@example.fi", "role": "member"},
        )
    assert response.status_code == 200
    assert Invitation.objects.filter(organization=organization, email="kutsuttu@example.fi")
    invitation_link = next(link for link in _links(mail.outbox[-1]) if "/invitations/" in link)
    secrets["invitation_token"] = invitation_link.rstrip("/").rsplit("/", 1)[-1]

    # Another organization's page: not found, and recorded.
    other = Organization.objects.create(name="Toinen Oy", business_id="7654321-7")
    assert client.get(reverse("organizations:detail", args=[other.pk])).status_code == 404

    client.post(reverse("account_logout"))
    return {"user": user, "secrets": secrets, "other": other}


def test_every_security_event_of_the_journey_is_audited(journey):
    user = journey["user"]
    actions = set(AuditEvent.objects.filter(target_user=user).values_list("action", flat=True))
    actions |= set(AuditEvent.objects.filter(actor=user).values_list("action", flat=True))
    expected = {
        "user.signed_up",
        "email.verified",
        "login.failed",
        "login.succeeded",
        "password.changed",
        "2fa.enabled",
        "sso.authorized",
        "invitation.created",
        "access.denied",
        "logout",
    }
    assert expected <= actions, expected - actions
    denied = AuditEvent.objects.get(action="access.denied", actor=user)
    assert denied.details["path"] == reverse("organizations:detail", args=[journey["other"].pk])
    assert denied.details["status"] == 404


def test_no_secret_in_logs_or_audit_rows(journey):
    secrets = journey["secrets"]
    assert all(len(value) >= 8 for value in secrets.values()), secrets.keys()
    logs = "\n".join(journey["logs"])
    assert len(journey["logs"]) > 20  # the journey did log (the scan is not of nothing)
    audit = json.dumps(
        list(AuditEvent.objects.values("action", "details", "user_agent")), default=str
    )
    assert _leaks(secrets, {"logs": logs, "audit": audit}) == {}


def _leaks(secrets: dict[str, str], texts: dict[str, str]) -> dict[str, str]:
    return {
        name: where
        for name, value in secrets.items()
        for where, text in texts.items()
        if value.lower() in text.lower()
    }


def test_the_scan_finds_a_planted_secret():
    secrets = {"access_token": "AbCdEf123456"}
    assert _leaks(secrets, {"logs": "GET /x?token=abcdef123456", "audit": ""}) == {
        "access_token": "logs"
    }
