"""Signing key handling, the production system check, and which `/o/` endpoints exist."""

from __future__ import annotations

import stat

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from sso import checks
from sso.keys import dev_key_load_or_create, rsa_private_key_generate, rsa_private_key_problem

PRODUCTION = "config.settings.production"


def _with_key(settings, key: str) -> dict:
    return {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": key}


def test_dev_key_is_created_once_private_and_reused(tmp_path):
    path = tmp_path / "var" / "oidc_dev_key.pem"
    first = dev_key_load_or_create(path)
    assert rsa_private_key_problem(first) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dev_key_load_or_create(path) == first


def test_key_problems_are_named():
    assert rsa_private_key_problem("") == "not set to a PEM private key"
    assert "readable" in rsa_private_key_problem(
        "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"
    )
    assert rsa_private_key_problem(rsa_private_key_generate()) is None


@pytest.mark.parametrize("key", ["", "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----"])
def test_production_refuses_without_a_usable_key(settings, key):
    with override_settings(
        SETTINGS_MODULE=PRODUCTION, DEBUG=False, OAUTH2_PROVIDER=_with_key(settings, key)
    ):
        errors = checks.oidc_signing_key_check(None)
        assert [e.id for e in errors] == ["sso.E001"]
        with pytest.raises(ImproperlyConfigured):
            checks.refuse_to_start_without_key()


def test_production_with_a_key_passes(settings):
    key = rsa_private_key_generate()
    with override_settings(
        SETTINGS_MODULE=PRODUCTION, DEBUG=False, OAUTH2_PROVIDER=_with_key(settings, key)
    ):
        assert checks.oidc_signing_key_check(None) == []
        checks.refuse_to_start_without_key()


def test_other_settings_do_not_require_a_key(settings):
    with override_settings(OAUTH2_PROVIDER=_with_key(settings, "")):
        assert checks.oidc_signing_key_check(None) == []


def test_base_settings_follow_rfc9700(settings):
    oauth = settings.OAUTH2_PROVIDER
    assert oauth["PKCE_REQUIRED"] is True
    assert oauth["ROTATE_REFRESH_TOKEN"] is True
    assert oauth["REFRESH_TOKEN_REUSE_PROTECTION"] is True
    assert oauth["ALLOWED_REDIRECT_URI_SCHEMES"] == ["https"]
    assert oauth["OIDC_RESPONSE_TYPES_SUPPORTED"] == ["code"]
    assert all(
        v
        for k, v in oauth.items()
        if k.startswith("COMPLIANT_BCP") and k != "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/o/applications/",
        "/o/applications/register/",
        "/o/register/",
        "/o/authorized_tokens/",
        "/o/device-authorization/",
    ],
)
def test_self_service_client_registration_is_not_routed(admin_client, path):
    assert admin_client.get(path).status_code == 404


@pytest.mark.django_db
def test_discovery_document(client):
    meta = client.get("/o/.well-known/openid-configuration").json()
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["scopes_supported"]) == {
        "openid",
        "profile",
        "email",
        "organizations",
        "organizations:manage",
    }
    for endpoint in ("end_session_endpoint", "revocation_endpoint", "userinfo_endpoint"):
        assert meta[endpoint].startswith("http://testserver/o/")
    jwks = client.get("/o/.well-known/jwks.json").json()
    assert [k["kty"] for k in jwks["keys"]] == ["RSA"]
    assert all("d" not in k for k in jwks["keys"])  # never the private part


def _manage_check_production(key: str | None, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    # A clean environment: nothing from the test process (DJANGO_*, DEBUG, ...) leaks in.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        SECRET_KEY="x" * 60 + "-production-like-secret-key-for-the-check-only",
        ALLOWED_HOSTS="tunnus.example.fi",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        OIDC_RSA_PRIVATE_KEY=key or "",
        TRUSTED_PROXY_COUNT="0",
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--settings=config.settings.production"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_deploy_check_is_clean_with_a_key(tmp_path):
    result = _manage_check_production(rsa_private_key_generate(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_production_does_not_start_without_a_key(tmp_path):
    result = _manage_check_production(None, tmp_path)
    assert result.returncode != 0
    assert "OIDC_RSA_PRIVATE_KEY" in result.stderr
