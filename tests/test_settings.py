"""Production settings: deploy checks are clean and passwords hash with Argon2id (OWASP)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def production_env(tmp_path_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="tunnus.example.fi",
        DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('prod') / 'db.sqlite3'}",
        OIDC_RSA_PRIVATE_KEY=pem,
        EMAIL_URL="smtp://127.0.0.1:25",
        TRUSTED_PROXY_COUNT="1",
    )
    return env


def _run(args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_prints_no_warnings(production_env):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_oidc_key(production_env):
    env = dict(production_env, OIDC_RSA_PRIVATE_KEY="")
    result = _run(["manage.py", "check", "--deploy"], env)
    assert result.returncode != 0
    assert "OIDC_RSA_PRIVATE_KEY" in result.stdout + result.stderr


def test_production_hashes_passwords_with_argon2id_owasp_parameters(production_env):
    code = (
        "import django; django.setup();"
        "from django.contrib.auth.hashers import make_password, check_password;"
        "h = make_password('correct horse battery staple');"
        "assert check_password('correct horse battery staple', h);"
        "print(h)"
    )
    result = _run(["-c", code], production_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_production_session_and_cookie_flags(production_env):
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS >= 31536000, s.SESSION_COOKIE_SAMESITE, s.ADMIN_REQUIRE_2FA,"
        " \"'unsafe-inline'\" in s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'])"
    )
    result = _run(["-c", code], production_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True", "Lax", "True", "False"]
