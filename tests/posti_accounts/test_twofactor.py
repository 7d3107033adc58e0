"""2FA: setup with re-authentication, login stage, backup codes single-use, TOTP replay
refusal, throttling of wrong codes, removal."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from kernel.errors import ApplicationError
from posti_accounts import twofactor
from posti_accounts.models import AuditEvent
from posti_accounts.views.security import BACKUP_CODES_SESSION_KEY
from tests.posti_accounts._auth_helpers import committing_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(django_capture_on_commit_callbacks):
    return committing_client(django_capture_on_commit_callbacks)


def _code(device: TOTPDevice, offset: int = 0) -> str:
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset)
    return f"{value:06d}"


def _enable(user) -> tuple[TOTPDevice, list[str]]:
    device = twofactor.totp_setup_start(user=user).device
    codes = twofactor.totp_setup_confirm(user=user, code=_code(device))
    device.refresh_from_db()
    return device, codes


def _login(client, user, password):
    return client.post(reverse("account_login"), {"login": user.email, "password": password})


def test_setup_page_requires_reauthentication(client, user, password):
    _login(client, user, password)
    session = client.session
    # The login record is what a fresh login counts as proof; without it (an old session) the
    # password is asked again. (The key named here before was not allauth's: it removed
    # nothing, and the page asked for the password even right after the login.)
    session.pop("account_authentication_methods", None)
    session.save()
    response = client.get(reverse("posti_accounts:twofactor_setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_setup_through_pages_shows_qr_and_codes_once(client, user, password):
    _login(client, user, password)
    client.post(reverse("account_reauthenticate"), {"password": password})
    response = client.get(reverse("posti_accounts:twofactor_setup"))
    assert response.status_code == 200
    assert b"<svg" in response.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert twofactor.totp_secret(device).encode() in response.content

    response = client.post(reverse("posti_accounts:twofactor_setup"), {"code": "000000"})
    assert response.status_code == 200 and not twofactor.user_has_2fa(user)
    device.throttle_reset()

    response = client.post(reverse("posti_accounts:twofactor_setup"), {"code": _code(device)})
    assert response["Location"] == reverse("posti_accounts:twofactor_backup_codes")
    assert twofactor.user_has_2fa(user)
    # Only hashes are stored (issue 12): the codes are the ones waiting in the session.
    tokens = client.session[BACKUP_CODES_SESSION_KEY]
    page = client.get(reverse("posti_accounts:twofactor_backup_codes")).content.decode()
    assert len(tokens) == twofactor.BACKUP_CODE_COUNT
    assert twofactor.backup_codes_remaining(user=user) == twofactor.BACKUP_CODE_COUNT
    assert all(t in page for t in tokens)
    again = client.get(reverse("posti_accounts:twofactor_backup_codes")).content.decode()
    assert not any(t in again for t in tokens)  # shown once
    event = AuditEvent.objects.get(action="2fa.enabled", target_user=user)
    assert all(t not in str(event.details) for t in tokens)
    assert twofactor.totp_secret(device) not in str(event.details)


def test_login_asks_for_code_and_refuses_replay(client, user, password):
    device, _codes = _enable(user)
    response = _login(client, user, password)
    assert response["Location"] == reverse("posti_accounts:twofactor_authenticate")
    assert "_auth_user_id" not in client.session
    # The code used at setup is the current one: a replay is refused.
    response = client.post(response["Location"], {"code": _code(device)})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="2fa.failed", target_user=user).exists()


def test_login_with_next_totp_code(client, user, password):
    device, _codes = _enable(user)
    # Simulate that the setup code was used one time step ago, so the current code is new.
    device.last_t -= 1
    device.save(update_fields=["last_t"])
    _login(client, user, password)
    response = client.post(
        reverse("posti_accounts:twofactor_authenticate"), {"code": _code(device)}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert AuditEvent.objects.filter(action="login.succeeded", target_user=user).exists()


def test_backup_code_works_once(client, user, password):
    _device, codes = _enable(user)
    _login(client, user, password)
    response = client.post(
        reverse("posti_accounts:twofactor_authenticate"), {"code": codes[0].upper()}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert AuditEvent.objects.filter(action="2fa.backup_code_used", target_user=user).exists()
    client.post(reverse("account_logout"))
    _login(client, user, password)
    response = client.post(reverse("posti_accounts:twofactor_authenticate"), {"code": codes[0]})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_wrong_codes_are_throttled(user):
    device, codes = _enable(user)
    with pytest.raises(ApplicationError) as exc:
        twofactor.twofactor_verify(user=user, code="123456")
    assert exc.value.code == "2fa_invalid"
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    for _ in range(3):
        device.throttle_increment()
    # After four failures the next attempt must wait 8 s: even a valid backup code is refused.
    with pytest.raises(ApplicationError) as exc:
        twofactor.twofactor_verify(user=user, code=codes[1])
    assert exc.value.code == "2fa_throttled"
    # The refused backup code was not used up: it still works once the wait is over.
    StaticDevice.objects.filter(user=user).update(throttling_failure_count=0)
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0)
    assert isinstance(twofactor.twofactor_verify(user=user, code=codes[1]), StaticDevice)
    assert AuditEvent.objects.filter(
        action="2fa.failed", target_user=user, details__reason="throttled"
    ).exists()


def test_totp_code_cannot_be_reused(user):
    device, _codes = _enable(user)
    device.last_t -= 1
    device.save(update_fields=["last_t"])
    code = _code(device)
    assert twofactor.twofactor_verify(user=user, code=code) == device
    with pytest.raises(ApplicationError) as exc:
        twofactor.twofactor_verify(user=user, code=code)
    assert exc.value.code == "2fa_invalid"


def test_remove_requires_reauthentication_and_audits(client, user, password):
    _enable(user)
    device = TOTPDevice.objects.get(user=user)
    device.last_t = int(time.time()) // device.step - 1
    device.save(update_fields=["last_t"])
    _login(client, user, password)
    client.post(reverse("posti_accounts:twofactor_authenticate"), {"code": _code(device)})
    session = client.session
    session.pop("account_authentication_records", None)
    session.save()
    response = client.post(reverse("posti_accounts:twofactor_remove"))
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert twofactor.user_has_2fa(user)
    client.post(reverse("account_reauthenticate"), {"password": password})
    response = client.post(reverse("posti_accounts:twofactor_remove"))
    assert response.status_code == 302
    assert not twofactor.user_has_2fa(user)
    assert not StaticToken.objects.filter(device__user=user).exists()
    assert twofactor.backup_codes_remaining(user=user) == 0
    assert AuditEvent.objects.filter(action="2fa.disabled", target_user=user).exists()
