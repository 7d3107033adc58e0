"""Finding 8: behind a proxy, each client keeps its own address.

Rules:
- Production refuses to start unless `TRUSTED_PROXY_COUNT` is stated in the environment
  (0 = clients connect directly; N = N proxies in front, each appending to X-Forwarded-For).
- allauth's per-IP login limits, DRF's throttles (`NUM_PROXIES`) and the audit trail's
  `client_ip` all follow that one count.
- With no proxy (0, also the development default) a client-supplied X-Forwarded-For is never
  believed, so rotating it escapes no limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from config.api import AnonThrottle
from posti_accounts import checks
from posti_accounts.audit import client_ip
from sso.keys import rsa_private_key_generate

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = "config.settings.production"


def _proxies(settings, count, **extra):
    """The three consumers of the count, set as the settings modules set them. (One
    override_settings: a nested one would lose SETTINGS_MODULE.)"""
    return override_settings(
        TRUSTED_PROXY_COUNT=count,
        ALLAUTH_TRUSTED_PROXY_COUNT=count,
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": count},
        **extra,
    )


def _production_proxies(settings, count, **extra):
    return _proxies(settings, count, SETTINGS_MODULE=PRODUCTION, DEBUG=False, **extra)


# --- the production check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "ids"), [(None, ["posti_accounts.E001"]), (-1, ["posti_accounts.E002"])]
)
def test_production_refuses_an_unstated_or_negative_count(settings, count, ids):
    with _production_proxies(settings, count):
        assert [e.id for e in checks.trusted_proxy_count_check(None)] == ids
        with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXY_COUNT"):
            checks.refuse_to_start_without_proxy_count()


@pytest.mark.parametrize("count", [0, 1, 2])
def test_production_accepts_a_stated_count(settings, count):
    with _production_proxies(settings, count):
        assert checks.trusted_proxy_count_check(None) == []
        checks.refuse_to_start_without_proxy_count()


def test_production_refuses_consumers_that_disagree(settings):
    with override_settings(
        SETTINGS_MODULE=PRODUCTION,
        DEBUG=False,
        TRUSTED_PROXY_COUNT=1,
        ALLAUTH_TRUSTED_PROXY_COUNT=1,
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": None},
    ):
        assert [e.id for e in checks.trusted_proxy_count_check(None)] == ["posti_accounts.E003"]


def test_other_settings_need_no_stated_count(settings):
    with _proxies(settings, None):
        assert checks.trusted_proxy_count_check(None) == []


def _production(tmp_path, **extra):
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE=PRODUCTION,
        SECRET_KEY="x" * 60 + "-production-like-secret-key-for-the-check-only",
        ALLOWED_HOSTS="tunnus.example.fi",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        OIDC_RSA_PRIVATE_KEY=rsa_private_key_generate(),
        **extra,
    )
    return env


def _run(args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_does_not_start_without_the_count(tmp_path):
    result = _run(["manage.py", "check", "--deploy"], _production(tmp_path))
    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT" in result.stderr


@pytest.mark.parametrize("count", ["0", "2"])
def test_production_reads_one_count_for_every_consumer(tmp_path, count):
    env = _production(tmp_path, TRUSTED_PROXY_COUNT=count)
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_PROXY_COUNT,"
        " s.REST_FRAMEWORK['NUM_PROXIES'])"
    )
    result = _run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [count, count, count]


def test_base_settings_never_believe_a_client_header(settings):
    """Development and tests: no proxy, so X-Forwarded-For is ignored everywhere."""
    assert settings.TRUSTED_PROXY_COUNT == 0
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0
    assert api_settings.NUM_PROXIES == 0


# --- what the count does -----------------------------------------------------------------------


def _api_request(xff: str | None, remote: str = "10.0.0.1"):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return APIRequestFactory().get("/api/v1/eservices", **extra)


def test_rotating_x_forwarded_for_does_not_escape_the_anon_throttle_without_proxy():
    throttle = AnonThrottle()
    idents = {throttle.get_ident(_api_request(f"203.0.113.{i}")) for i in range(20)}
    assert idents == {"10.0.0.1"}


def test_anon_throttle_counts_per_client_behind_one_proxy(settings):
    with _proxies(settings, 1):
        throttle = AnonThrottle()
        # The proxy appends the address it saw; anything before it is the client's own claim.
        spoofed = {
            throttle.get_ident(_api_request(f"198.51.100.{i}, 203.0.113.9")) for i in range(9)
        }
        assert spoofed == {"203.0.113.9"}
        assert throttle.get_ident(_api_request("192.0.2.50")) == "192.0.2.50"


@pytest.mark.django_db
def test_anon_throttle_refuses_a_client_rotating_the_header(settings):
    """The limit holds end to end: a rotating header still hits 429."""
    from rest_framework.decorators import api_view, permission_classes, throttle_classes
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response

    @api_view(["GET"])
    @permission_classes([AllowAny])
    @throttle_classes([AnonThrottle])
    def ping(request):
        return Response({"ok": True})

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "3/min"}
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        statuses = [ping(_api_request(f"203.0.113.{i}")).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def _login_request(xff: str | None):
    extra = {"REMOTE_ADDR": "10.0.0.1"}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().post("/accounts/login/", **extra)


def test_login_limit_and_audit_use_the_same_client_address(settings):
    from allauth.account.adapter import get_adapter

    adapter = get_adapter()
    with _proxies(settings, 0):
        request = _login_request("203.0.113.9")
        assert adapter.get_client_ip(request) == client_ip(request) == "10.0.0.1"
    with _proxies(settings, 1):
        request = _login_request("198.51.100.1, 203.0.113.9")
        assert adapter.get_client_ip(request) == client_ip(request) == "203.0.113.9"


@pytest.mark.django_db
def test_behind_a_proxy_one_attacker_does_not_lock_everyone_out(settings, client, user, password):
    """Failed logins from one client exhaust that client's per-IP limit only."""
    from allauth.account.adapter import get_adapter
    from django.utils import translation

    with translation.override("fi"):  # the login page's language (no cookie, no user)
        limited = str(get_adapter().error_messages["too_many_login_attempts"])
    limits = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/m/ip"}
    with _proxies(settings, 1), override_settings(ACCOUNT_RATE_LIMITS=limits):
        for i in range(5):
            attack = client.post(
                "/accounts/login/",
                {"login": f"someone{i}@example.fi", "password": "wrong-password-123"},
                REMOTE_ADDR="10.0.0.1",
                HTTP_X_FORWARDED_FOR="203.0.113.9",
            )
        assert limited in str(attack.context["form"].errors)
        response = client.post(
            "/accounts/login/",
            {"login": user.email, "password": password},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="192.0.2.50",
        )
        assert response.status_code == 302, response.context["form"].errors
