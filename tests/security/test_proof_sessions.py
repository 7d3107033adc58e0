"""Session management and re-authentication (ASVS 5.0 V7.2.4 new token at authentication,
V7.3.1/V7.3.2 idle and absolute timeouts, V7.4.1 logout ends the session server-side,
V7.5.1 re-authentication before sensitive changes, V6.2.3 password change needs the current
password).

What tests/posti_accounts/test_sessions.py already proves (idle/absolute timeouts log the
browser out, activity keeps a session alive) is not repeated; here the old session key
itself is replayed, as a thief holding a copied cookie would.

Rules:
- A session key from before a login (fixation) is dead after it, at the password step and
  again when the 2FA step completes; a key from before a logout or a timeout is dead after it.
- The session cookie lives only as long as the browser; the server-side session expires
  no later than SESSION_ABSOLUTE_TIMEOUT.
- Email change, 2FA setup, 2FA removal and new backup codes redirect to re-authentication
  and change nothing when the last re-authentication is older than
  ACCOUNT_REAUTHENTICATION_TIMEOUT (a login by itself is not one: allauth always asks).
  The password change asks for the current password instead, which is the re-authentication.
"""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from posti_accounts import twofactor
from posti_accounts.middleware import SESSION_ACTIVITY, SESSION_STARTED
from posti_accounts.models import BackupCode, UserSession
from tests.posti_accounts._auth_helpers import CommittingClient
from tests.security._admin_clients import totp_code, twofactor_enable

pytestmark = pytest.mark.django_db

RECORDS = "account_authentication_methods"
COOKIE = settings.SESSION_COOKIE_NAME


@pytest.fixture
def make_client(django_capture_on_commit_callbacks):
    def _make(key: str | None = None) -> CommittingClient:
        c = CommittingClient()
        c.capture = django_capture_on_commit_callbacks
        if key:
            c.cookies[COOKIE] = key
        return c

    return _make


def _login(c, user, password):
    return c.post(reverse("account_login"), {"login": user.email, "password": password})


def _key(c) -> str:
    return c.cookies[COOKIE].value


def _is_anonymous_with(make_client, key: str) -> bool:
    """Replay `key` from another browser: is it refused (sent to log in)?"""
    thief = make_client(key)
    response = thief.get(reverse("posti_accounts:sessions"))
    return response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


# --- New keys at login, dead keys after logout and timeouts ---------------------------------
def test_a_fixed_session_key_is_dead_after_login(make_client, user, password):
    victim = make_client()
    victim.get(reverse("account_login"))
    victim.session.save()
    planted = victim.session.session_key
    assert Session.objects.filter(session_key=planted).exists()
    _login(victim, user, password)
    assert victim.session["_auth_user_id"] == str(user.pk)
    assert _key(victim) != planted
    assert not Session.objects.filter(session_key=planted).exists()
    assert _is_anonymous_with(make_client, planted)
    assert not _is_anonymous_with(make_client, _key(victim))  # the control: the new key works


def test_the_key_changes_again_when_the_second_factor_completes(make_client, user, password):
    device, _codes = twofactor_enable(user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)
    device.refresh_from_db()
    c = make_client()
    c.get(reverse("account_login"))
    c.session.save()
    before = c.session.session_key
    _login(c, user, password)
    halfway = _key(c)  # password given, code pending
    assert "_auth_user_id" not in c.session
    c.post(reverse("posti_accounts:twofactor_authenticate"), {"code": totp_code(device)})
    assert c.session["_auth_user_id"] == str(user.pk)
    after = _key(c)
    assert len({before, halfway, after}) == 3
    assert not Session.objects.filter(session_key__in=[before, halfway]).exists()
    # The half-way session cannot skip the code by being replayed after the login.
    assert _is_anonymous_with(make_client, halfway)


def test_the_old_cookie_is_dead_after_logout(make_client, user, password):
    c = make_client()
    _login(c, user, password)
    key = _key(c)
    assert not _is_anonymous_with(make_client, key)
    c.post(reverse("account_logout"))
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()
    assert _is_anonymous_with(make_client, key)


@pytest.mark.parametrize("which", ["idle", "absolute"])
def test_the_old_cookie_is_dead_after_a_timeout(make_client, user, password, which):
    c = make_client()
    _login(c, user, password)
    key = _key(c)
    session = c.session
    if which == "idle":
        session[SESSION_ACTIVITY] -= settings.SESSION_IDLE_TIMEOUT + 1
    else:
        session[SESSION_STARTED] -= settings.SESSION_ABSOLUTE_TIMEOUT + 1
    session.save()
    # The copied cookie is replayed first, by the thief: it is the one that meets the timeout.
    assert _is_anonymous_with(make_client, key)
    assert not Session.objects.filter(session_key=key).exists()
    assert _is_anonymous_with(make_client, key)
    # The API refuses it as well (the middleware lets the request through, anonymous).
    assert make_client(key).get("/api/v1/me").status_code in (401, 403)


def test_the_session_lives_no_longer_than_the_browser_and_the_absolute_timeout(
    make_client, user, password
):
    c = make_client()
    before = timezone.now()
    response = _login(c, user, password)
    cookie = response.cookies[COOKIE]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    assert cookie["httponly"]
    row = Session.objects.get(session_key=cookie.value)
    age = (row.expire_date - before).total_seconds()
    assert age <= settings.SESSION_ABSOLUTE_TIMEOUT + 5


# --- Re-authentication -------------------------------------------------------------------------
def _reauthenticate(c, password, *, age: int) -> None:
    """Re-authenticate now, then make every authentication record `age` seconds old."""
    response = c.post(reverse("account_reauthenticate"), {"password": password})
    assert response.status_code == 302
    session = c.session
    records = session[RECORDS]
    assert any(r.get("reauthenticated") for r in records)
    for record in records:
        record["at"] -= age
    session[RECORDS] = records
    session.save()


TIMEOUT = settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
AGES = pytest.mark.parametrize(
    ("age", "allowed"), [(TIMEOUT - 30, True), (TIMEOUT + 1, False)], ids=["recent", "old"]
)


def _sent_to_reauthenticate(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        reverse("account_reauthenticate")
    )


@AGES
def test_email_change_needs_recent_reauthentication(make_client, user, password, age, allowed):
    c = make_client()
    _login(c, user, password)
    _reauthenticate(c, password, age=age)
    mail.outbox.clear()
    response = c.post(reverse("account_email"), {"action_add": "", "email": "uusi@example.fi"})
    assert _sent_to_reauthenticate(response) is not allowed
    assert EmailAddress.objects.filter(email="uusi@example.fi").exists() is allowed
    assert any(m.to == ["uusi@example.fi"] for m in mail.outbox) is allowed
    user.refresh_from_db()
    assert user.email != "uusi@example.fi"  # never before the new address is verified


@AGES
def test_2fa_setup_needs_recent_reauthentication(make_client, user, password, age, allowed):
    c = make_client()
    _login(c, user, password)
    _reauthenticate(c, password, age=age)
    response = c.get(reverse("posti_accounts:twofactor_setup"))
    assert _sent_to_reauthenticate(response) is not allowed
    # An old session is shown no secret: no device is even created.
    assert TOTPDevice.objects.filter(user=user).exists() is allowed
    # A device started elsewhere cannot be confirmed by the old session either.
    device = twofactor.totp_setup_start(user=user).device
    response = c.post(reverse("posti_accounts:twofactor_setup"), {"code": totp_code(device)})
    assert _sent_to_reauthenticate(response) is not allowed
    assert twofactor.user_has_2fa(user) is allowed


def _login_with_2fa(c, user, password) -> TOTPDevice:
    device, _codes = twofactor_enable(user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)
    device.refresh_from_db()
    _login(c, user, password)
    c.post(reverse("posti_accounts:twofactor_authenticate"), {"code": totp_code(device)})
    assert c.session["_auth_user_id"] == str(user.pk)
    return device


@AGES
def test_2fa_removal_needs_recent_reauthentication(make_client, user, password, age, allowed):
    c = make_client()
    _login_with_2fa(c, user, password)
    _reauthenticate(c, password, age=age)
    response = c.post(reverse("posti_accounts:twofactor_remove"))
    assert _sent_to_reauthenticate(response) is not allowed
    assert twofactor.user_has_2fa(user) is not allowed
    assert StaticDevice.objects.filter(user=user).exists() is not allowed


@AGES
def test_new_backup_codes_need_recent_reauthentication(make_client, user, password, age, allowed):
    c = make_client()
    _login_with_2fa(c, user, password)
    hashes = set(BackupCode.objects.filter(device__user=user).values_list("code_hash", flat=True))
    _reauthenticate(c, password, age=age)
    response = c.post(reverse("posti_accounts:twofactor_backup_codes"))
    assert _sent_to_reauthenticate(response) is not allowed
    now = set(BackupCode.objects.filter(device__user=user).values_list("code_hash", flat=True))
    assert (now == hashes) is not allowed


def test_password_change_in_an_old_session_needs_the_current_password(make_client, user, password):
    """allauth's password change does not redirect to re-authentication: it asks for the
    current password on the same form, the same proof (and, since the fix of this round,
    under the same failed-login limit: tests/security/test_proof_bruteforce.py)."""
    c = make_client()
    _login(c, user, password)
    _reauthenticate(c, password, age=TIMEOUT + 1)
    new = "uusi-pitka-salasana-2026"
    for old in ("", "arvattu-salasana-123"):
        response = c.post(
            reverse("account_change_password"),
            {"oldpassword": old, "password1": new, "password2": new},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["oldpassword"]
        user.refresh_from_db()
        assert user.check_password(password)
    response = c.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
