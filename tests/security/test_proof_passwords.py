"""Password rules, proved through the sign-up form and the password-change form (ASVS 5.0
V6.2.1 minimum 12, V6.2.4 common passwords refused, V6.2.5 no composition rules, V6.2.6
no truncation, V6.2.9 at least 64 characters allowed).

Rules:
- 11 characters are refused, 12 are accepted.
- 128 characters (spaces and non-ASCII included) are accepted and verified exactly at login:
  the same password with one character changed, or without its last (space) character, fails.
- A password on Django's common-password list (case-insensitive) is refused even when it is
  12 characters or longer.
- No composition rules: an all-lowercase passphrase is accepted.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import password_validation
from django.core import mail
from django.urls import reverse

from posti_accounts.models import User
from tests.posti_accounts._auth_helpers import committing_client, link_in

pytestmark = pytest.mark.django_db

# 127 characters of a passphrase with spaces and Finnish letters, then a trailing space: the
# space proves that nothing is stripped, the length that nothing is truncated.
LONG = (("Pitkä salasana: kuusi kissaa ja €-merkki ÅÄÖ åäö 🐈 " * 3)[:127]) + " "
ELEVEN = "kissakoira1"
TWELVE = "kissakoira12"
LOWERCASE_PASSPHRASE = "kuusikissaahyppiiaidanyli"
# On Django's list (each is 12 characters or more); the validator ignores case.
COMMON = ["password1234", "qwerty123456", "Password1234", "JamesBond007"]


def test_the_constants_are_what_they_claim():
    assert len(ELEVEN) == 11 and len(TWELVE) == 12 and len(LONG) == 128
    assert LONG.endswith(" ") and not LONG.isascii()
    assert LOWERCASE_PASSPHRASE.islower() and LOWERCASE_PASSPHRASE.isalpha()
    common = password_validation.CommonPasswordValidator().passwords
    assert all(len(p) >= 12 and p.lower() in common for p in COMMON)


@pytest.fixture
def client(django_capture_on_commit_callbacks):
    return committing_client(django_capture_on_commit_callbacks)


def _signup(client, email: str, password: str):
    return client.post(
        reverse("account_signup"), {"email": email, "password1": password, "password2": password}
    )


def _login(client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def _logged_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


# --- Sign-up ------------------------------------------------------------------------------------
@pytest.mark.parametrize("password", [ELEVEN, *COMMON], ids=["11-chars", *COMMON])
def test_signup_refuses(client, password):
    response = _signup(client, "uusi@example.fi", password)
    assert response.status_code == 200
    assert response.context["form"].errors.get("password1")
    assert not User.objects.filter(email="uusi@example.fi").exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    "password", [TWELVE, LOWERCASE_PASSPHRASE, LONG], ids=["12-chars", "lowercase", "128-chars"]
)
def test_signup_accepts(client, password):
    response = _signup(client, "uusi@example.fi", password)
    assert response.status_code == 302, response.context["form"].errors
    user = User.objects.get(email="uusi@example.fi")
    assert user.check_password(password)


def test_signup_128_characters_are_verified_exactly_at_login(client):
    _signup(client, "pitka@example.fi", LONG)
    client.post(link_in(mail.outbox[0]))  # confirm the address (and log in)
    client.post(reverse("account_logout"))
    assert _logged_in_as(client) is None

    changed_last = LONG[:-1] + "x"
    changed_first = "p" + LONG[1:]
    for wrong in (changed_last, changed_first, LONG[:-1], LONG[:72]):
        _login(client, "pitka@example.fi", wrong)
        assert _logged_in_as(client) is None, len(wrong)
    _login(client, "pitka@example.fi", LONG)
    assert _logged_in_as(client) == str(User.objects.get(email="pitka@example.fi").pk)


# --- Password change ----------------------------------------------------------------------------
def _change(client, user, old: str, new: str):
    _login(client, user.email, old)
    assert _logged_in_as(client) == str(user.pk)
    return client.post(
        reverse("account_change_password"),
        {"oldpassword": old, "password1": new, "password2": new},
    )


@pytest.mark.parametrize("new", [ELEVEN, *COMMON], ids=["11-chars", *COMMON])
def test_password_change_refuses(client, user, password, new):
    response = _change(client, user, password, new)
    assert response.status_code == 200
    assert response.context["form"].errors.get("password1")
    user.refresh_from_db()
    assert user.check_password(password) and not user.check_password(new)


@pytest.mark.parametrize(
    "new", [TWELVE, LOWERCASE_PASSPHRASE, LONG], ids=["12-chars", "lowercase", "128-chars"]
)
def test_password_change_accepts(client, user, password, new):
    response = _change(client, user, password, new)
    assert response.status_code == 302, response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(new) and not user.check_password(password)


def test_password_change_128_characters_are_verified_exactly_at_login(client, user, password):
    _change(client, user, password, LONG)
    assert _logged_in_as(client) is None  # ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE
    for wrong in (LONG[:-1] + "x", LONG[:64] + "X" + LONG[65:], LONG[:-1], password):
        _login(client, user.email, wrong)
        assert _logged_in_as(client) is None
    _login(client, user.email, LONG)
    assert _logged_in_as(client) == str(user.pk)
