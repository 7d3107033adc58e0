"""The whole authorization code flow with a real OIDC client library (Authlib) against the
live server: discovery, authorize (through the real login form), token with PKCE, ID-token
signature checked against the JWKS, userinfo, refresh with rotation, RP-initiated logout."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, RSAKey
from oauth2_provider.models import AccessToken, RefreshToken

from tests.sso.conftest import POST_LOGOUT_URI, REDIRECT_URI, Browser

pytestmark = pytest.mark.django_db(transaction=True)

SCOPES = "openid profile email organizations"


def _discover(live_server) -> dict:
    response = requests.get(f"{live_server.url}/o/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    return response.json()


def test_full_code_flow(live_server, member, password, eservice, client_factory, request):
    client_id, client_secret = client_factory(eservice, first_party=True)
    meta = _discover(live_server)
    assert meta["issuer"] == f"{live_server.url}/o"
    assert "S256" in meta["code_challenge_methods_supported"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"organizations", "email", "profile"} <= set(meta["scopes_supported"])
    assert "organizations" in meta["claims_supported"]

    client = OAuth2Session(
        client_id,
        client_secret,
        scope=SCOPES,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    # Authorize: not logged in -> the real login form -> (first party: no consent) -> callback.
    browser = Browser(live_server.url, member.email, password)
    # Kept-alive connections would hold a live-server thread, and its database connection,
    # open past the test (PostgreSQL then cannot drop the test database).
    request.addfinalizer(browser.session.close)
    request.addfinalizer(client.close)
    callback, _last = browser.run(url)
    assert callback is not None, browser.pages[-1].text[:2000]
    params = parse_qs(urlparse(callback).query)
    assert params["state"] == [state]
    assert params["iss"] == [meta["issuer"]]  # RFC 9207
    assert not any(p.url.startswith(f"{live_server.url}/o/authorize") for p in browser.pages), (
        "first-party e-service must not show the consent page"
    )

    # Without the PKCE verifier the code is refused.
    bare = requests.post(
        meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": REDIRECT_URI,
        },
        auth=(client_id, client_secret),
        timeout=10,
    )
    assert bare.status_code == 400

    # That failed attempt did not consume the code? It may have: ask for a fresh one.
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback, _ = browser.run(url)  # already logged in: straight back
    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    assert {"access_token", "refresh_token", "id_token"} <= set(token)

    # ID token: RS256 signature against the published JWKS, issuer, audience, nonce.
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    key_set = KeySet.import_key_set(jwks)
    id_token = jwt.decode(token["id_token"], key_set, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
    ).validate(id_token.claims)
    assert id_token.header["alg"] == "RS256"
    claims = id_token.claims
    assert claims["sub"] == str(member.uuid)
    assert claims["sub"] != str(member.pk)
    assert claims["email"] == member.email
    assert claims["email_verified"] is True
    assert claims["given_name"] == "Maija"
    assert claims["family_name"] == "Meikäläinen"
    assert claims["name"] == "Maija Meikäläinen"
    assert claims["locale"] == "fi"
    assert claims["organizations"] == [
        {
            "business_id": "1234567-1",
            "name": "Esimerkki Oy",
            "role": "main_user",
            "eservices": [eservice.code],
        }
    ]

    # A token signed by another key is rejected by the same JWKS.
    other = RSAKey.generate_key(2048, parameters={"kid": jwks["keys"][0]["kid"]})
    forged = jwt.encode({"alg": "RS256", "kid": jwks["keys"][0]["kid"]}, dict(claims), other)
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, key_set, algorithms=["RS256"])

    # Userinfo with the access token.
    info = client.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == str(member.uuid)
    assert info["email"] == member.email
    assert info["organizations"][0]["business_id"] == "1234567-1"

    # Refresh rotates: new tokens, and the old refresh token no longer works.
    old_refresh = token["refresh_token"]
    new = client.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert new["refresh_token"] != old_refresh
    assert new["access_token"] != token["access_token"]
    replay = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": old_refresh},
        auth=(client_id, client_secret),
        timeout=10,
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # Replay protection revoked the whole family, including the refresh token just issued.
    assert not RefreshToken.objects.filter(user=member, revoked__isnull=True).exists()

    # Start again to test logout with a live session and live tokens.
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback, _ = browser.run(url)
    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    assert (
        browser.session.get(f"{live_server.url}/profile/", allow_redirects=False).status_code == 200
    )

    # RP-initiated logout with id_token_hint: straight back to the registered URI.
    logout_url = (
        meta["end_session_endpoint"]
        + "?"
        + urlencode(
            {
                "id_token_hint": token["id_token"],
                "post_logout_redirect_uri": POST_LOGOUT_URI,
                "state": "bye",
            }
        )
    )
    landed, _ = browser.run(logout_url, stop_prefix=POST_LOGOUT_URI)
    assert landed is not None and parse_qs(urlparse(landed).query)["state"] == ["bye"]
    # The portal session ended and the client's tokens are gone.
    after = browser.session.get(f"{live_server.url}/profile/", allow_redirects=False)
    assert after.status_code == 302 and "/accounts/login/" in after.headers["Location"]
    assert not AccessToken.objects.filter(user=member).exists()
    assert client.get(meta["userinfo_endpoint"]).status_code == 401


def test_logout_to_unregistered_uri_is_refused(
    live_server, member, password, eservice, client_factory
):
    client_id, _secret = client_factory(eservice)
    response = requests.get(
        f"{live_server.url}/o/logout/",
        params={"client_id": client_id, "post_logout_redirect_uri": "https://evil.example/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert "evil.example" not in response.headers.get("Location", "")
