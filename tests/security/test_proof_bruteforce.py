"""Brute force and credential stuffing (ASVS 5.0 V6.3.1, V6.3.5 no permanent lockout, V6.5.1
single-use OTP, V6.6.3 OTP throttling).

Rules (ACCOUNT_RATE_LIMITS in config/settings/base.py; TRUSTED_PROXY_COUNT is 0 here, so the
client address is REMOTE_ADDR):
- "login_failed: 5/5m/key": five failed logins for one account and the next attempt is refused
  for five minutes, whatever address each attempt comes from, even with the right password.
  The limit lifts by itself (no permanent lockout: the account stays active).
- "login_failed: 10/m/ip": one address failing against many accounts is refused after ten.
- "login: 30/m/ip": any login submission, even one that is not an email address, counts.
- Every place a password is checked counts against the same per-account limit: the admin's
  login is allauth's login, re-authentication and the password-change form's current
  password.
- Wrong 2FA codes are throttled (the first costs no wait: see tests/security/
  test_twofactor_changes.py), restarting the login does not reset the throttle, and a TOTP
  code used for one login is refused for another.
"""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from posti_accounts.models import AuditEvent
from tests.factories import UserFactory
from tests.security._admin_clients import staff_user, totp_code, twofactor_enable

pytestmark = pytest.mark.django_db

PER_ACCOUNT = 5  # login_failed ".../5m/key"
PER_ACCOUNT_WINDOW = 300
PER_IP = 10  # login_failed "10/m/ip"
LOGIN_PER_IP = 30  # login "30/m/ip"
THROTTLED = "too_many_login_attempts"


def _ip(n: int) -> str:
    return f"198.51.100.{n % 250 + 1}"


def _login(client, login, password, *, ip="192.0.2.1", url=None):
    return client.post(
        url or reverse("account_login"), {"login": login, "password": password}, REMOTE_ADDR=ip
    )


def _error_codes(response) -> list[str]:
    form = response.context["form"]
    return [e.code for errors in form.errors.as_data().values() for e in errors]


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def later():
    """Move allauth's rate-limit clock forward by `later(seconds)` (only its clock: the cache
    entries stay, so it is the window logic itself that lets the attempts through again)."""
    offset = [0.0]
    clock = SimpleNamespace(
        time=lambda: time.time() + offset[0], monotonic=time.monotonic, sleep=time.sleep
    )
    with mock.patch("allauth.core.internal.ratelimit.time", clock):

        def _move(seconds: float) -> None:
            offset[0] = seconds

        yield _move


def _fail_from_rotating_ips(user, count=PER_ACCOUNT, *, url=None) -> None:
    for n in range(count):
        response = _login(Client(), user.email, f"wrong-guess-{n:04d}-xx", ip=_ip(n), url=url)
        assert THROTTLED not in _error_codes(response), n


# --- Per account ----------------------------------------------------------------------------
def test_rotating_addresses_do_not_escape_the_per_account_limit(user, password):
    _fail_from_rotating_ips(user)
    c = Client()
    response = _login(c, user.email, password, ip="203.0.113.99")
    assert THROTTLED in _error_codes(response)
    assert not _logged_in(c)
    # The address letter case makes no difference to the key.
    response = _login(c, user.email.upper(), password, ip="203.0.113.98")
    assert THROTTLED in _error_codes(response) and not _logged_in(c)
    # Another account from the same addresses is not affected.
    other = UserFactory(password=password)
    _login(c, other.email, password, ip=_ip(0))
    assert c.session["_auth_user_id"] == str(other.pk)


def test_the_per_account_limit_lifts_by_itself(user, password, later):
    _fail_from_rotating_ips(user)
    c = Client()
    later(PER_ACCOUNT_WINDOW - 10)
    assert THROTTLED in _error_codes(_login(c, user.email, password))
    assert not _logged_in(c)
    later(PER_ACCOUNT_WINDOW + 1)
    response = _login(c, user.email, password)
    assert response.status_code == 302
    assert c.session["_auth_user_id"] == str(user.pk)
    user.refresh_from_db()
    assert user.is_active  # throttled, never locked out


# --- Per address ----------------------------------------------------------------------------
def test_one_address_against_many_accounts_is_refused(password):
    victims = UserFactory.create_batch(PER_IP + 1, password=password)
    attacker = Client()
    for victim in victims[:PER_IP]:
        response = _login(attacker, victim.email, "wrong-guess-0000-xx", ip="192.0.2.66")
        assert THROTTLED not in _error_codes(response)
    # The eleventh account has had no failure, yet this address is refused (even the right
    # password), while another address logs in to it.
    response = _login(attacker, victims[-1].email, password, ip="192.0.2.66")
    assert THROTTLED in _error_codes(response) and not _logged_in(attacker)
    other = Client()
    _login(other, victims[-1].email, password, ip="192.0.2.67")
    assert other.session["_auth_user_id"] == str(victims[-1].pk)


def test_every_login_submission_counts_per_address(db):
    c = Client()
    for _ in range(LOGIN_PER_IP):
        assert _login(c, "matti123", "whatever-password").status_code == 200
    assert _login(c, "matti123", "whatever-password").status_code == 429
    assert _login(Client(), "matti123", "whatever-password", ip="192.0.2.2").status_code == 200


# --- The same limit at the other doors ------------------------------------------------------
def test_admin_login_is_allauths_login_with_the_same_limit(client, password):
    staff = staff_user(password=password)
    response = client.get("/admin/login/")
    assert response.status_code == 302
    login_url = response["Location"]
    assert login_url.startswith(reverse("account_login") + "?next=")
    # Django's own admin login form never checks a password here: no second door.
    response = client.post("/admin/login/", {"username": staff.email, "password": password})
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert not _logged_in(client)
    assert not AuditEvent.objects.filter(action__startswith="login.").exists()

    _fail_from_rotating_ips(staff, url=login_url)
    assert AuditEvent.objects.filter(action="login.failed", target_user=staff).count() == 5
    response = _login(client, staff.email, password, ip="203.0.113.5", url=login_url)
    assert THROTTLED in _error_codes(response)
    assert not _logged_in(client)


def test_reauthentication_counts_against_the_account_limit(user, password):
    c = Client()
    _login(c, user.email, password)
    for n in range(PER_ACCOUNT):
        c.post(reverse("account_reauthenticate"), {"password": f"wrong-guess-{n:04d}-xx"})
    response = _login(Client(), user.email, password, ip="203.0.113.7")
    assert THROTTLED in _error_codes(response)


def test_password_change_current_password_counts_against_the_account_limit(user, password, later):
    """A stolen session must not get a faster password oracle than the login page: wrong
    current passwords at the password change count against the account's failed-login limit,
    so once the change form's own limit (change_password: 5/m/user) has passed, the guessing
    still waits for the account's five minutes."""
    c = Client()
    _login(c, user.email, password)
    new = "uusi-pitka-salasana-2026"
    for n in range(PER_ACCOUNT):
        response = c.post(
            reverse("account_change_password"),
            {"oldpassword": f"wrong-guess-{n:04d}-xx", "password1": new, "password2": new},
        )
        assert response.status_code == 200
    later(61)  # the change form's per-user limit has passed, the account's has not
    response = c.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": new, "password2": new},
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(password)
    assert THROTTLED in _error_codes(_login(Client(), user.email, password, ip="203.0.113.8"))
    later(PER_ACCOUNT_WINDOW + 1)
    response = c.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)


# --- Second factor --------------------------------------------------------------------------
def _next_code_unused(device: TOTPDevice) -> None:
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)
    device.refresh_from_db()


def _wrong_code(device: TOTPDevice) -> str:
    window = {totp_code(device, drift=d) for d in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in window)


def _failures(user, reason: str) -> int:
    return AuditEvent.objects.filter(
        action="2fa.failed", target_user=user, details__reason=reason
    ).count()


def test_wrong_codes_at_login_are_throttled_and_a_new_login_does_not_reset(user, password):
    device, _codes = twofactor_enable(user)
    _next_code_unused(device)
    url = reverse("posti_accounts:twofactor_authenticate")
    c = Client()
    assert _login(c, user.email, password)["Location"] == url
    for _ in range(2):
        assert c.post(url, {"code": _wrong_code(device)}).status_code == 200
    assert _failures(user, "invalid") == 2
    # The second wrong code costs a wait: now even the right code is refused.
    assert c.post(url, {"code": totp_code(device)}).status_code == 200
    assert not _logged_in(c)
    assert _failures(user, "throttled") == 1
    # Starting again with the password does not reset the throttle.
    fresh = Client()
    assert _login(fresh, user.email, password)["Location"] == url
    assert fresh.post(url, {"code": totp_code(device)}).status_code == 200
    assert not _logged_in(fresh)
    assert _failures(user, "throttled") == 2
    # Once the wait (1 s after the second failure) has passed, the right code works.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=1.5)
    )
    assert fresh.post(url, {"code": totp_code(device)}).status_code == 302
    assert fresh.session["_auth_user_id"] == str(user.pk)


def test_a_code_used_for_one_login_is_refused_for_another(user, password):
    device, _codes = twofactor_enable(user)
    _next_code_unused(device)
    url = reverse("posti_accounts:twofactor_authenticate")
    code = totp_code(device)
    first, second = Client(), Client(REMOTE_ADDR="203.0.113.20")
    _login(first, user.email, password)
    assert first.post(url, {"code": code}).status_code == 302
    assert first.session["_auth_user_id"] == str(user.pk)
    _login(second, user.email, password)
    assert second.post(url, {"code": code}).status_code == 200
    assert not _logged_in(second)
    assert _failures(user, "invalid") == 1
