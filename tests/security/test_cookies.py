"""Finding 14 (cookies): production names its session and CSRF cookies with the `__Host-`
prefix, so the browser accepts them only when Secure, for Path=/ and without a Domain, and no
sibling subdomain or plain-http page can plant or overwrite them.

Rule: production `SESSION_COOKIE_NAME == "__Host-sessionid"` and `CSRF_COOKIE_NAME ==
"__Host-csrftoken"`; a `__Host-` cookie that is not Secure, has a Domain or a path other than
`/` is refused by a system check (the browser would silently drop it). Nothing in the portal
reads the CSRF cookie by name (forms carry the token; the API docs page takes it from the
template), so the rename needs no client change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from posti_accounts import checks
from sso.keys import rsa_private_key_generate

ROOT = Path(__file__).resolve().parents[2]

HOST_COOKIES = {
    "SESSION_COOKIE_NAME": "__Host-sessionid",
    "CSRF_COOKIE_NAME": "__Host-csrftoken",
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


def test_production_uses_host_prefixed_cookies(tmp_path):
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="x" * 60 + "-production-like-secret-key-for-the-test-only",
        ALLOWED_HOSTS="tunnus.example.fi",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        OIDC_RSA_PRIVATE_KEY=rsa_private_key_generate(),
        TRUSTED_PROXY_COUNT="1",
    )
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_PATH,"
        " s.CSRF_COOKIE_PATH, s.SESSION_COOKIE_DOMAIN, s.CSRF_COOKIE_DOMAIN,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "/",
        "/",
        "None",
        "None",
        "True",
        "True",
    ]


@pytest.mark.django_db
def test_login_sets_cookies_the_browser_accepts_as_host_cookies(client, user, password):
    with override_settings(**HOST_COOKIES):
        page = client.get("/accounts/login/", secure=True)
        csrf = page.cookies["__Host-csrftoken"]
        response = client.post(
            "/accounts/login/",
            {"login": user.email, "password": password},
            secure=True,
        )
        assert response.status_code == 302
        session = response.cookies["__Host-sessionid"]
    for cookie in (csrf, session):
        assert cookie["secure"] is True
        assert cookie["path"] == "/"
        assert cookie["domain"] == ""
    assert session["httponly"] is True
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize(
    "change",
    [
        {"SESSION_COOKIE_SECURE": False},
        {"CSRF_COOKIE_SECURE": False},
        {"SESSION_COOKIE_DOMAIN": ".example.fi"},
        {"CSRF_COOKIE_PATH": "/accounts/"},
    ],
)
def test_a_host_cookie_the_browser_would_drop_is_refused(change):
    with override_settings(**{**HOST_COOKIES, **change}):
        assert [e.id for e in checks.host_cookie_check(None)] == ["posti_accounts.E004"]


def test_host_cookie_settings_pass_the_check():
    with override_settings(**HOST_COOKIES):
        assert checks.host_cookie_check(None) == []


# --- finding 14 (passwords) ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("breached", ["password1234", "Q1W2E3R4T5Y6", "qwertyqwerty"])
def test_common_breached_passwords_are_refused(breached):
    """No outside service is called: Django's list of the 20,000 most common passwords (from
    breach corpora) stays in AUTH_PASSWORD_VALIDATORS, checked case-insensitively."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        validate_password(breached)
    assert "password_too_common" in {e.code for e in refused.value.error_list}
