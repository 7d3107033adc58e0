"""OAuth tokens do not outlive the credentials (issue 12, finding 6).

Rules:
- A password change, "log out my other sessions", turning 2FA on, removing it, a 2FA reset by
  staff and deactivation each revoke every access and refresh token of the user: the refresh
  token no longer refreshes at /o/token/, the access token gets 401 at /o/userinfo/, and
  introspection reports it inactive. The audit event counts the revoked tokens.
- An access token of a user who is no longer active is refused at /o/userinfo/, even if the
  token row still exists (the account was deactivated some other way).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from posti_accounts import twofactor
from posti_accounts.models import AuditEvent, User
from posti_accounts.privileges import user_active_set
from posti_accounts.sessions import user_sessions_end
from tests.security._admin_clients import staff_user, twofactor_enable
from tests.sso.conftest import client_factory, eservice, member  # noqa: F401 (fixtures)
from tests.sso.helpers import authorize_url, basic_auth, code_from, exchange, token_request

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "changed-passphrase-for-test-1"


@pytest.fixture
def rp(client_factory, eservice):  # noqa: F811
    return client_factory(eservice)


def _issue(browser: Client, user: User, rp) -> dict:
    client_id, secret = rp
    browser.force_login(user)
    code = code_from(browser.get(authorize_url(client_id, "openid")))
    assert code, "no code issued"
    response = exchange(Client(), client_id, secret, code)
    assert response.status_code == 200, response.content
    return response.json()


def _userinfo(tokens) -> int:
    bearer = f"Bearer {tokens['access_token']}"
    return Client().get("/o/userinfo/", HTTP_AUTHORIZATION=bearer).status_code


def _introspect(rp, tokens) -> dict:
    client_id, secret = rp
    response = Client().post(
        "/o/introspect/",
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic_auth(client_id, secret),
    )
    assert response.status_code == 200, response.content
    return response.json()


def _refresh(rp, tokens):
    client_id, secret = rp
    return token_request(
        Client(),
        client_id,
        secret,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )


def _assert_live(rp, tokens) -> None:
    assert _userinfo(tokens) == 200
    assert _introspect(rp, tokens)["active"] is True


def _assert_revoked(rp, tokens, user) -> None:
    assert _userinfo(tokens) == 401
    assert _introspect(rp, tokens) == {"active": False}
    response = _refresh(rp, tokens)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_grant"
    assert not get_access_token_model().objects.filter(user=user).exists()
    assert not get_refresh_token_model().objects.filter(user=user, revoked__isnull=True).exists()


def _tokens_counted(user, reason) -> int:
    event = AuditEvent.objects.filter(
        action="sessions.revoked", target_user=user, details__reason=reason
    ).latest("id")
    return event.details.get("oauth_revoked", 0)


def test_password_change_revokes_tokens(client, member, rp, password):  # noqa: F811
    tokens = _issue(client, member, rp)
    _assert_live(rp, tokens)
    client.post(reverse("account_reauthenticate"), {"password": password})
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    _assert_revoked(rp, tokens, member)
    assert _tokens_counted(member, "password") == 2  # one access, one refresh token


def test_logging_out_other_sessions_revokes_tokens(client, member, rp):  # noqa: F811
    tokens = _issue(client, member, rp)
    _assert_live(rp, tokens)
    response = client.post(reverse("posti_accounts:sessions"))
    assert response.status_code == 302
    _assert_revoked(rp, tokens, member)
    assert _tokens_counted(member, "revoked") == 2


def test_enabling_2fa_revokes_tokens(client, member, rp):  # noqa: F811
    tokens = _issue(client, member, rp)
    _assert_live(rp, tokens)
    twofactor_enable(member)
    assert twofactor.user_has_2fa(member)
    _assert_revoked(rp, tokens, member)
    assert _tokens_counted(member, "2fa") == 2


def _with_confirmed_device(user) -> None:
    # 2FA is on (set up earlier); the tokens were issued before, without going through setup.
    TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)


def test_removing_2fa_revokes_tokens(client, member, rp):  # noqa: F811
    tokens = _issue(client, member, rp)
    _with_confirmed_device(member)
    _assert_live(rp, tokens)
    twofactor.twofactor_remove(user=member, actor=member)
    assert not twofactor.user_has_2fa(member)
    _assert_revoked(rp, tokens, member)


def test_staff_2fa_reset_revokes_tokens(client, member, rp):  # noqa: F811
    tokens = _issue(client, member, rp)
    _with_confirmed_device(member)
    _assert_live(rp, tokens)
    admin = staff_user(superuser=True)
    assert twofactor.twofactor_reset(user=member, actor=admin)
    _assert_revoked(rp, tokens, member)


def test_deactivation_revokes_tokens(client, member, rp):  # noqa: F811
    tokens = _issue(client, member, rp)
    _assert_live(rp, tokens)
    admin = staff_user(superuser=True)
    # `member` is its organization's only main user: appoint a second one first (the last
    # main user cannot be deactivated, DESIGN invariant 2).
    from organizations.models import Membership

    org = Membership.objects.get(user=member).organization
    Membership.objects.create(
        user=User.objects.create_user(email="toinen@example.fi", password=None),
        organization=org,
        role=Membership.Role.MAIN_USER,
        status=Membership.Status.ACTIVE,
    )
    assert user_active_set(user=member, active=False, actor=admin)
    _assert_revoked(rp, tokens, member)
    assert _tokens_counted(member, "deactivated") == 2


def test_inactive_users_remaining_access_token_is_refused(client, member, rp):  # noqa: F811
    tokens = _issue(client, member, rp)
    _assert_live(rp, tokens)
    # Deactivated without the service (e.g. a bulk update): the token rows are still there.
    User.objects.filter(pk=member.pk).update(is_active=False)
    assert get_access_token_model().objects.filter(user=member).exists()
    assert _userinfo(tokens) == 401
    assert _introspect(rp, tokens) == {"active": False}
    response = _refresh(rp, tokens)
    assert response.status_code == 400, response.content


def test_audit_event_without_tokens_is_unchanged(member):  # noqa: F811
    user_sessions_end(user=member, actor=member, keep_current=False)
    event = AuditEvent.objects.get(action="sessions.revoked", target_user=member)
    assert event.details == {"count": 0, "reason": "revoked", "kept_current": False}


def test_password_set_through_a_campaign_link_ends_sessions_and_tokens(client, member, rp):  # noqa: F811
    """The campaign link sets the password with the one password service, which ends every
    session and token resting on the old password (it once only saved the hash)."""
    from notifications.services import campaign_link_password_set

    tokens = _issue(client, member, rp)
    _assert_live(rp, tokens)
    campaign_link_password_set(user=member, password=NEW_PASSWORD)
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    _assert_revoked(rp, tokens, member)
    assert client.get(reverse("posti_accounts:sessions")).status_code == 302
