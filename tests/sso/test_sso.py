"""Claims and scopes, consent (skipped for first-party e-services), the e-service membership
gate at the authorization and token endpoints, 2FA and required actions before any code."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import Grant, get_application_model

from organizations import services as org_services
from organizations.models import Membership, Organization
from posti_accounts import services as account_services
from posti_accounts import twofactor
from posti_accounts.models import AuditEvent, RequiredAction
from sso.selectors import MSG_NO_MEMBERSHIP, MSG_NOT_CONFIGURED
from sso.services import relying_party_link
from tests.factories import EServiceFactory, UserFactory
from tests.sso.conftest import REDIRECT_URI
from tests.sso.helpers import (
    authorize_url,
    basic_auth,
    code_from,
    exchange,
    id_token_claims,
    token_request,
)

pytestmark = pytest.mark.django_db

CLOSED_BUSINESS_ID = "2345678-0"


def _login(client: Client, user) -> Client:
    client.force_login(user)
    return client


def _tokens(client, client_id, secret, user, scope):
    _login(client, user)
    code = code_from(client.get(authorize_url(client_id, scope)))
    assert code, "no code issued"
    response = exchange(client, client_id, secret, code)
    assert response.status_code == 200, response.content
    return response.json()


# --- claims and scopes ------------------------------------------------------------------------


def test_openid_scope_alone_gives_only_the_subject(client, member, eservice, client_factory):
    client_id, secret = client_factory(eservice)
    tokens = _tokens(client, client_id, secret, member, "openid")
    claims = id_token_claims(client, tokens["id_token"])
    assert claims["sub"] == str(member.uuid)
    for claim in ("email", "name", "given_name", "locale", "organizations"):
        assert claim not in claims
    info = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert info.json() == {"sub": str(member.uuid)}
    event = AuditEvent.objects.get(action="sso.authorized", target_user=member)
    assert event.details == {"client_id": client_id, "scopes": ["openid"]}


def test_email_and_profile_scopes(client, member, eservice, client_factory):
    member.preferred_language = "sv"
    member.save(update_fields=["preferred_language"])
    client_id, secret = client_factory(eservice)
    tokens = _tokens(client, client_id, secret, member, "openid email profile")
    claims = id_token_claims(client, tokens["id_token"])
    assert claims["email"] == member.email
    assert claims["email_verified"] is True
    assert claims["locale"] == "sv"
    assert claims["name"] == "Maija Meikäläinen"
    assert "organizations" not in claims


def test_unverified_email_is_reported(client, eservice, client_factory, password):
    open_service = EServiceFactory(code="avoin", requires_membership=False)
    user = UserFactory(password=password, email_verified=False)
    client_id, secret = client_factory(open_service)
    tokens = _tokens(client, client_id, secret, user, "openid email")
    assert id_token_claims(client, tokens["id_token"])["email_verified"] is False


def test_organizations_claim_lists_active_memberships_only(
    client, member, eservice, client_factory
):
    pending_org = org_services.organization_create(
        name="Odottava Oy", business_id="7654321-2", actor=None
    )
    org_services.membership_create(
        organization=pending_org,
        user=member,
        services=[eservice],
        status=Membership.Status.PENDING,
        actor=None,
        notify=False,
    )
    closed = org_services.organization_create(
        name="Suljettu Oy", business_id=CLOSED_BUSINESS_ID, actor=None
    )
    org_services.membership_create(
        organization=closed, user=member, services=[eservice], actor=None, notify=False
    )
    Organization.objects.filter(pk=closed.pk).update(is_active=False)
    client_id, secret = client_factory(eservice)
    tokens = _tokens(client, client_id, secret, member, "openid organizations")
    claims = id_token_claims(client, tokens["id_token"])
    assert [o["business_id"] for o in claims["organizations"]] == ["1234567-1"]
    assert claims["organizations"][0]["role"] == "main_user"
    assert claims["organizations"][0]["eservices"] == [eservice.code]


def test_unknown_scope_is_refused(client, member, eservice, client_factory):
    client_id, _secret = client_factory(eservice)
    response = _login(client, member).get(authorize_url(client_id, "openid admin"))
    assert code_from(response) is None
    assert "invalid_scope" in response["Location"]


# --- consent ----------------------------------------------------------------------------------


def test_third_party_service_asks_for_consent(client, member, eservice, client_factory):
    client_id, secret = client_factory(eservice, first_party=False)
    _login(client, member)
    member.preferred_language = "sv"
    member.save(update_fields=["preferred_language"])
    page = client.get(authorize_url(client_id, "openid email"))
    assert page.status_code == 200
    assert "Din e-postadress" in page.content.decode()  # the scope, in the user's language
    assert "sso/authorize.html" in [t.name for t in page.templates]
    assert not Grant.objects.exists()
    form = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    denied = client.post("/o/authorize/", {**form, "scope": "openid email"})
    assert "error=access_denied" in denied["Location"]
    assert not Grant.objects.exists()
    allowed = client.post("/o/authorize/", {**form, "scope": "openid email", "allow": "Authorize"})
    code = code_from(allowed)
    assert code and exchange(client, client_id, secret, code).status_code == 200
    # Consent is remembered for the same scopes while a token is valid.
    assert code_from(client.get(authorize_url(client_id, "openid email")))


def test_first_party_flag_drives_consent_skip(client, member, eservice, client_factory):
    client_id, _secret = client_factory(eservice, first_party=False)
    application = get_application_model().objects.get(client_id=client_id)
    _login(client, member)
    assert client.get(authorize_url(client_id)).status_code == 200  # consent page
    relying_party_link(application=application, eservice=eservice, first_party=True, actor=None)
    application.refresh_from_db()
    assert application.skip_authorization is True
    assert code_from(client.get(authorize_url(client_id)))
    assert AuditEvent.objects.filter(action="sso.client_updated").exists()


# --- the membership gate ----------------------------------------------------------------------


def _refused(response, message) -> None:
    assert response.status_code == 403
    assert "sso/refused.html" in [t.name for t in response.templates]
    assert str(response.context["refusal"].message) == str(message)
    assert not Grant.objects.exists()


def test_user_without_membership_is_refused_with_a_page(client, eservice, client_factory):
    client_id, _secret = client_factory(eservice)
    outsider = UserFactory()
    response = _login(client, outsider).get(authorize_url(client_id))
    _refused(response, MSG_NO_MEMBERSHIP % {"service": eservice.name})
    assert AuditEvent.objects.filter(action="sso.refused", target_user=outsider).exists()
    page = response.content.decode()
    assert "Pyydä organisaatiosi pääkäyttäjää myöntämään sinulle käyttöoikeus" in page  # fi
    assert outsider.email in page
    # The consent form cannot be posted around the page either.
    response = client.post(
        "/o/authorize/",
        {
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid",
            "allow": "Authorize",
        },
    )
    assert response.status_code == 403 and not Grant.objects.exists()


def test_membership_without_the_service_is_refused(client, eservice, client_factory):
    client_id, _secret = client_factory(eservice)
    user = UserFactory()
    org = org_services.organization_create(name="X Oy", business_id="7654321-2", actor=None)
    org_services.membership_create(organization=org, user=user, actor=None, notify=False)
    response = _login(client, user).get(authorize_url(client_id))
    _refused(response, MSG_NO_MEMBERSHIP % {"service": eservice.name})


def test_pending_membership_does_not_grant_access(client, eservice, client_factory):
    client_id, _secret = client_factory(eservice)
    user = UserFactory()
    org = org_services.organization_create(name="X Oy", business_id="7654321-2", actor=None)
    org_services.membership_create(
        organization=org,
        user=user,
        services=[eservice],
        status=Membership.Status.PENDING,
        actor=None,
        notify=False,
    )
    _refused(
        _login(client, user).get(authorize_url(client_id)),
        MSG_NO_MEMBERSHIP % {"service": eservice.name},
    )


def test_open_service_needs_no_membership(client, open_eservice, client_factory):
    client_id, _secret = client_factory(open_eservice)
    assert code_from(_login(client, UserFactory()).get(authorize_url(client_id)))


def test_application_without_eservice_is_refused(client, member):
    application = get_application_model().objects.create(
        name="Unlinked",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris=REDIRECT_URI,
        algorithm="RS256",
    )
    response = _login(client, member).get(authorize_url(application.client_id))
    _refused(response, MSG_NOT_CONFIGURED)


def test_inactive_service_is_refused(client, member, eservice, client_factory):
    client_id, _secret = client_factory(eservice)
    eservice.is_active = False
    eservice.save(update_fields=["is_active"])
    response = _login(client, member).get(authorize_url(client_id))
    assert response.status_code == 403
    assert response.context["refusal"].code == "service_inactive"


def test_token_endpoint_applies_the_gate_too(client, member, eservice, client_factory):
    """Access removed between the code and the token, or before a refresh: no token."""
    client_id, secret = client_factory(eservice)
    tokens = _tokens(client, client_id, secret, member, "openid")
    code = code_from(client.get(authorize_url(client_id)))
    membership = Membership.objects.get(user=member)
    org_services.membership_services_set(membership=membership, services=[], actor=None)
    refused = exchange(client, client_id, secret, code)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    refresh = token_request(
        client,
        client_id,
        secret,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


# --- 2FA and required actions -----------------------------------------------------------------


def test_required_actions_come_before_any_code(client, member, eservice, client_factory):
    client_id, _secret = client_factory(eservice)
    account_services.user_required_action_set(
        user=member, action=RequiredAction.UPDATE_PASSWORD, actor=None
    )
    response = _login(client, member).get(authorize_url(client_id))
    assert response.status_code == 302
    assert response["Location"] == "/profile/actions/update-password/"
    assert not Grant.objects.exists()
    account_services.user_password_changed(user=member)
    assert code_from(client.get(authorize_url(client_id)))


def test_second_factor_comes_before_any_code(member, password, eservice, client_factory):
    client_id, _secret = client_factory(eservice)
    setup = twofactor.totp_setup_start(user=member)
    twofactor.totp_setup_confirm(user=member, code=f"{totp(setup.device.bin_key):06d}")
    url = authorize_url(client_id)
    browser = Client()
    # Anonymous: to the login form, which knows where to come back to.
    response = browser.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = browser.post(response["Location"], {"login": member.email, "password": password})
    assert response.status_code == 302
    assert response["Location"].startswith("/profile/2fa/authenticate/")
    # Password alone: not logged in, so still no code.
    blocked = browser.get(url)
    assert code_from(blocked) is None and not Grant.objects.exists()
    device = TOTPDevice.objects.get(user=member)
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # allow the next time step
    response = browser.post("/profile/2fa/authenticate/", {"code": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 302
    assert get_user_model().objects.get(pk=member.pk).last_login is not None
    assert code_from(browser.get(url))


def test_session_that_skipped_2fa_must_log_in_again(client, member, eservice, client_factory):
    client_id, _secret = client_factory(eservice)
    setup = twofactor.totp_setup_start(user=member)
    twofactor.totp_setup_confirm(user=member, code=f"{totp(setup.device.bin_key):06d}")
    response = _login(client, member).get(authorize_url(client_id))  # no OTP verification
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Grant.objects.exists()
    assert "_auth_user_id" not in client.session


def test_revocation(client, member, eservice, client_factory):
    client_id, secret = client_factory(eservice)
    tokens = _tokens(client, client_id, secret, member, "openid profile")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    assert client.get("/o/userinfo/", **bearer).status_code == 200
    response = token_request(client, client_id, secret, token=tokens["refresh_token"])
    assert response.status_code == 400  # /o/token/ is not the revocation endpoint
    revoke = client.post(
        "/o/revoke_token/",
        {"token": tokens["access_token"], "token_type_hint": "access_token"},
        HTTP_AUTHORIZATION=basic_auth(client_id, secret),
    )
    assert revoke.status_code == 200
    assert client.get("/o/userinfo/", **bearer).status_code == 401
    response = client.get("/api/v1/me", **bearer)  # the session does not stand in for it
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
