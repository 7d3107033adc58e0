"""2FA changes end the other sessions and tell the user; wrong codes are throttled fairly
(issue 12, finding 10 and the 2FA items of its test list).

Rules:
- Turning 2FA on or removing it (by the user, or a reset by staff) ends every other session of
  the user (this browser stays logged in) and emails the user, in their language, as a password
  change does.
- Wrong codes are throttled with a growing delay, but the first wrong code costs no wait: a
  mistyped code followed at once by the right one succeeds. From the second wrong code on, even
  a right code waits (1 s, 2 s, 4 s ...).
- A TOTP code that has been used once is refused after that.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from kernel.errors import ApplicationError
from posti_accounts import twofactor
from posti_accounts.models import AuditEvent, UserSession
from tests.factories import UserFactory
from tests.posti_accounts._auth_helpers import CommittingClient
from tests.security._admin_clients import totp_code, twofactor_enable

pytestmark = pytest.mark.django_db

ENABLED_SUBJECT = "Two-factor authentication was turned on for your account"
REMOVED_SUBJECT = "Two-factor authentication was removed from your account"


@pytest.fixture
def make_client(django_capture_on_commit_callbacks):
    def _make() -> CommittingClient:
        c = CommittingClient()
        c.capture = django_capture_on_commit_callbacks
        return c

    return _make


def _login(c, user, password):
    return c.post(reverse("account_login"), {"login": user.email, "password": password})


def _is_logged_in(c) -> bool:
    response = c.get(reverse("posti_accounts:twofactor"))
    return response.status_code == 200


def _subject(msgid: str, language: str) -> str:
    with translation.override(language):
        return gettext(msgid)


def _wrong_code(device: TOTPDevice) -> str:
    """A 6-digit code that no time step in the accepted window produces."""
    window = {totp_code(device, drift=d) for d in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in window)


def _next_code_unused(device: TOTPDevice) -> None:
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)
    device.refresh_from_db()


def test_enabling_2fa_ends_other_sessions_and_emails_the_user(make_client, user, password):
    user.preferred_language = "sv"
    user.save(update_fields=["preferred_language"])
    mine, other = make_client(), make_client()
    _login(mine, user, password)
    _login(other, user, password)
    assert _is_logged_in(other)
    mine.post(reverse("account_reauthenticate"), {"password": password})
    mine.get(reverse("posti_accounts:twofactor_setup"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    mail.outbox.clear()
    response = mine.post(reverse("posti_accounts:twofactor_setup"), {"code": totp_code(device)})
    assert response["Location"] == reverse("posti_accounts:twofactor_backup_codes")
    assert twofactor.user_has_2fa(user)
    assert _is_logged_in(mine)
    assert not _is_logged_in(other)
    assert list(UserSession.objects.filter(user=user).values_list("session_key", flat=True)) == [
        mine.session.session_key
    ]
    event = AuditEvent.objects.get(action="sessions.revoked", target_user=user)
    assert event.details == {"count": 1, "reason": "2fa", "kept_current": True}
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert _subject(ENABLED_SUBJECT, "sv") != ENABLED_SUBJECT
    assert mail.outbox[0].subject == _subject(ENABLED_SUBJECT, "sv")
    assert twofactor.totp_secret(device) not in mail.outbox[0].body


def test_removing_2fa_ends_other_sessions_and_emails_the_user(make_client, user, password):
    device, _codes = twofactor_enable(user)
    _next_code_unused(device)
    mine, other = make_client(), make_client()
    for c in (mine, other):
        _login(c, user, password)
        c.post(reverse("posti_accounts:twofactor_authenticate"), {"code": totp_code(device)})
        _next_code_unused(device)
        assert _is_logged_in(c)
    mine.post(reverse("account_reauthenticate"), {"password": password})
    mail.outbox.clear()
    response = mine.post(reverse("posti_accounts:twofactor_remove"))
    assert response.status_code == 302
    assert not twofactor.user_has_2fa(user)
    assert _is_logged_in(mine)
    assert not _is_logged_in(other)
    assert AuditEvent.objects.filter(
        action="sessions.revoked", target_user=user, details__reason="2fa"
    ).exists()
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert mail.outbox[0].subject == _subject(REMOVED_SUBJECT, "fi")
    assert _subject(REMOVED_SUBJECT, "fi") != REMOVED_SUBJECT


def test_one_wrong_code_then_the_right_one_succeeds(user):
    device, _codes = twofactor_enable(user)
    _next_code_unused(device)
    with pytest.raises(ApplicationError) as exc:
        twofactor.twofactor_verify(user=user, code=_wrong_code(device))
    assert exc.value.code == "2fa_invalid"
    assert twofactor.twofactor_verify(user=user, code=totp_code(device)) == device
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_one_wrong_code_then_the_right_one_at_login(make_client, user, password):
    device, _codes = twofactor_enable(user)
    _next_code_unused(device)
    c = make_client()
    _login(c, user, password)
    url = reverse("posti_accounts:twofactor_authenticate")
    wrong = _wrong_code(device)
    assert c.post(url, {"code": wrong}).status_code == 200
    response = c.post(url, {"code": totp_code(device)})
    assert response.status_code == 302
    assert c.session["_auth_user_id"] == str(user.pk)


def test_one_wrong_code_then_the_right_one_at_setup(user):
    device = twofactor.totp_setup_start(user=user).device
    wrong = _wrong_code(device)
    with pytest.raises(ApplicationError):
        twofactor.totp_setup_confirm(user=user, code=wrong)
    twofactor.totp_setup_confirm(user=user, code=totp_code(device))
    assert twofactor.user_has_2fa(user)


def test_repeated_wrong_codes_are_throttled(user):
    device, codes = twofactor_enable(user)
    _next_code_unused(device)
    wrong = _wrong_code(device)
    for _ in range(2):
        with pytest.raises(ApplicationError) as exc:
            twofactor.twofactor_verify(user=user, code=wrong)
        assert exc.value.code == "2fa_invalid"
    # Second failure: the right code and a backup code now wait.
    for code in (totp_code(device), codes[0]):
        with pytest.raises(ApplicationError) as exc:
            twofactor.twofactor_verify(user=user, code=code)
        assert exc.value.code == "2fa_throttled"
    # Once the wait (1 s after the second failure) has passed, the right code works.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=1.5)
    )
    assert twofactor.twofactor_verify(user=user, code=totp_code(device)) == device


def test_throttle_delay_doubles_from_the_second_failure(user):
    device, _codes = twofactor_enable(user)
    now = timezone.now()
    for failures, waited, allowed in [
        (1, 0, True),
        (2, 0.5, False),
        (2, 1.1, True),
        (3, 1.5, False),
        (3, 2.1, True),
        (5, 7.5, False),
        (5, 8.1, True),
    ]:
        device.throttling_failure_count = failures
        device.throttling_failure_timestamp = now - timedelta(seconds=waited)
        assert twofactor.verify_is_allowed(device, now=now) is allowed, (failures, waited)


def test_used_totp_code_is_refused(user):
    device, _codes = twofactor_enable(user)
    _next_code_unused(device)
    code = totp_code(device)
    assert twofactor.twofactor_verify(user=user, code=code) == device
    with pytest.raises(ApplicationError) as exc:
        twofactor.twofactor_verify(user=user, code=code)
    assert exc.value.code == "2fa_invalid"
    # The setup code itself cannot be replayed either.
    other = UserFactory()
    other_device = twofactor.totp_setup_start(user=other).device
    setup_code = totp_code(other_device)
    twofactor.totp_setup_confirm(user=other, code=setup_code)
    with pytest.raises(ApplicationError):
        twofactor.twofactor_verify(user=other, code=setup_code)
