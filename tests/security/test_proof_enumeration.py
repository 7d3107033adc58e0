"""No account enumeration (ASVS 5.0 V6.3.8): the login, sign-up and password-reset pages and
the old-username hint answer the same, byte for byte, whether or not an account exists.

Bodies are compared after removing the CSRF token and replacing the address or name the page
echoes back; everything else (status, redirect target, markup, messages) must be identical.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from migration.models import LegacyAccount
from organizations.models import EService
from posti_accounts.forms import MSG_LOGIN_WITH_EMAIL
from posti_accounts.models import AuditEvent, User
from tests.factories import UserFactory
from tests.posti_accounts._auth_helpers import committing_client, without_csrf

pytestmark = pytest.mark.django_db

UNKNOWN = "ei-ketaan@example.fi"
PASSWORD = "joku-pitka-salasana-2026"


def _normalized(response, echoed: str) -> tuple[int, str, bytes]:
    body = without_csrf(response.content)
    body = re.sub(re.escape(echoed).encode(), b"ECHOED", body, flags=re.IGNORECASE)
    return response.status_code, response.get("Location", ""), body


def _followed(client, response, echoed: str) -> tuple[int, str, bytes]:
    assert response.status_code == 302
    return _normalized(client.get(response["Location"]), echoed)


def test_login_wrong_password_known_and_unknown_address_look_the_same(user):
    known = _normalized(
        Client().post(reverse("account_login"), {"login": user.email, "password": PASSWORD}),
        user.email,
    )
    unknown = _normalized(
        Client().post(reverse("account_login"), {"login": UNKNOWN, "password": PASSWORD}),
        UNKNOWN,
    )
    assert known[0] == 200
    assert b"ECHOED" in known[2]  # the address is echoed: the normalization did its work
    assert known == unknown
    assert AuditEvent.objects.filter(action="login.failed").count() == 2


def test_signup_existing_and_new_address_look_the_same(user, django_capture_on_commit_callbacks):
    pages = []
    for email in (user.email, "aivan-uusi@example.fi"):
        c = committing_client(django_capture_on_commit_callbacks)
        response = c.post(
            reverse("account_signup"),
            {"email": email, "password1": PASSWORD, "password2": PASSWORD},
        )
        pages.append((_normalized(response, email), _followed(c, response, email)))
    assert pages[0][0][0] == 302
    assert pages[0] == pages[1]
    # Only the new address got an account; the existing one kept its password.
    assert User.objects.filter(email="aivan-uusi@example.fi").exists()
    user.refresh_from_db()
    assert not user.check_password(PASSWORD)


@pytest.mark.parametrize("kind", ["known", "known-other-case", "unverified", "inactive"])
def test_password_reset_answers_the_same_as_for_an_unknown_address(kind):
    email = "olemassa@example.fi"
    target = UserFactory(
        email=email, password=PASSWORD, email_verified=kind != "unverified", is_active=True
    )
    if kind == "inactive":
        User.objects.filter(pk=target.pk).update(is_active=False)
    typed = email.upper() if kind == "known-other-case" else email
    answers = []
    for address in (typed, UNKNOWN):
        c = Client()
        response = c.post(reverse("account_reset_password"), {"email": address})
        answers.append((_normalized(response, address), _followed(c, response, address)))
    assert answers[0][0][0] == 302
    assert answers[0] == answers[1]


def _legacy_account(username: str) -> None:
    service = EService.objects.get_or_create(
        code="lahetykset", defaults={"name_fi": "L", "name_sv": "L", "name_en": "L"}
    )[0]
    LegacyAccount.objects.create(
        service=service,
        username=username,
        email="matti@example.fi",
        email_valid=True,
        password_hash="x",
        hash_scheme="django_pbkdf2_sha256",
        row_digest="x",
    )


def test_old_username_hint_is_the_same_for_an_existing_and_a_made_up_username(db):
    _legacy_account("matti123")
    answers = []
    for name in ("matti123", "keksitty_nimi"):
        response = Client().post(reverse("account_login"), {"login": name, "password": PASSWORD})
        assert str(MSG_LOGIN_WITH_EMAIL) in response.context["form"].errors["login"]
        answers.append(_normalized(response, name))
    assert answers[0][0] == 200
    assert answers[0] == answers[1]
