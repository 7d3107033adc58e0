"""Driving the authorization and token endpoints with Django's test client."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.sso.conftest import REDIRECT_URI

VERIFIER = "v" * 64


def challenge(verifier: str = VERIFIER) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(client_id: str, scope: str = "openid", **extra) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "st4te",
        "nonce": "n0nce",
        "code_challenge": challenge(),
        "code_challenge_method": "S256",
        **extra,
    }
    return "/o/authorize/?" + urlencode(params)


def code_from(response) -> str | None:
    if response.status_code != 302 or not response["Location"].startswith(REDIRECT_URI):
        return None
    return parse_qs(urlparse(response["Location"]).query).get("code", [None])[0]


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_request(client, client_id, secret, **data):
    return client.post("/o/token/", data, HTTP_AUTHORIZATION=basic_auth(client_id, secret))


def exchange(client, client_id, secret, code):
    return token_request(
        client,
        client_id,
        secret,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=VERIFIER,
    )


def id_token_claims(client, id_token: str) -> dict:
    jwks = json.loads(client.get("/o/.well-known/jwks.json").content)
    return jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims
