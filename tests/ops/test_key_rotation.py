"""OIDC signing-key rotation (docs/deploy.md): JWKS publishes the inactive keys next to the
signing key; ID tokens are signed only with OIDC_RSA_PRIVATE_KEY."""

from __future__ import annotations

import importlib
import os

import pytest
from jwcrypto import jwk

from sso.keys import rsa_private_key_generate

pytestmark = pytest.mark.django_db


def _kid(pem: str) -> str:
    return jwk.JWK.from_pem(pem.encode()).thumbprint()


def test_jwks_publishes_the_next_key_before_it_signs(client, settings):
    active = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    upcoming = rsa_private_key_generate()
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [upcoming],
    }
    keys = client.get("/o/.well-known/jwks.json").json()["keys"]
    assert [k["kid"] for k in keys] == [_kid(active), _kid(upcoming)]
    assert all("d" not in k for k in keys)  # public parts only


def test_inactive_keys_are_read_from_the_environment(monkeypatch):
    one, two = rsa_private_key_generate(), rsa_private_key_generate()
    # As a one-line environment value would hold them: newlines written as \n.
    monkeypatch.setenv("OIDC_RSA_PRIVATE_KEYS_INACTIVE", (one + two).replace("\n", "\\n"))
    from config.settings import base

    try:
        reloaded = importlib.reload(base)
        assert [one.strip(), two.strip()] == reloaded.OIDC_RSA_PRIVATE_KEYS_INACTIVE
        assert reloaded.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEYS_INACTIVE"] == [
            one.strip(),
            two.strip(),
        ]
    finally:
        monkeypatch.delenv("OIDC_RSA_PRIVATE_KEYS_INACTIVE")
        importlib.reload(base)
    assert os.environ.get("OIDC_RSA_PRIVATE_KEYS_INACTIVE") is None
