"""Finding 12: only `manage.py` defaults to development settings.

Rule: `config.wsgi`, `config.asgi` and the Celery app (`config.celery`) default to
`config.settings.production`, which refuses to start without its required environment
(SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, the OIDC key, TRUSTED_PROXY_COUNT) with an
ImproperlyConfigured that names what is missing. `manage.py` keeps `config.settings.local`, so
`make run` needs nothing. An explicit DJANGO_SETTINGS_MODULE always wins.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sso.keys import rsa_private_key_generate

ROOT = Path(__file__).resolve().parents[2]

LOAD = {
    "wsgi": "import config.wsgi",
    "asgi": "import config.asgi",
    # The Celery app reads the Django settings when its configuration is first used (the
    # worker and beat do that at startup).
    "celery": "from config.celery import app; app.conf.broker_url",
}


def _clean_env(**extra) -> dict:
    """Nothing from the test process (DJANGO_SETTINGS_MODULE, DATABASE_URL, ...) leaks in."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(extra)
    return env


def _python(code: str, env: dict):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("entry", sorted(LOAD))
def test_entry_point_without_environment_refuses_to_start(entry):
    result = _python(LOAD[entry], _clean_env())
    assert result.returncode != 0, result.stdout
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert "Set the SECRET_KEY environment variable" in result.stderr


@pytest.mark.parametrize("entry", sorted(LOAD))
def test_entry_point_defaults_to_production(entry, tmp_path):
    env = _clean_env(
        SECRET_KEY="x" * 60 + "-production-like-secret-key-for-the-test-only",
        ALLOWED_HOSTS="tunnus.example.fi",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        OIDC_RSA_PRIVATE_KEY=rsa_private_key_generate(),
        TRUSTED_PROXY_COUNT="1",
    )
    code = LOAD[entry] + (
        "\nimport os; from django.conf import settings"
        "\nprint(os.environ['DJANGO_SETTINGS_MODULE'], settings.DEBUG)"
    )
    result = _python(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["config.settings.production", "False"]


@pytest.mark.parametrize("entry", sorted(LOAD))
def test_explicit_settings_module_wins(entry):
    env = _clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        OIDC_RSA_PRIVATE_KEY=rsa_private_key_generate(),
    )
    code = LOAD[entry] + "\nfrom django.conf import settings; print(settings.SETTINGS_MODULE)"
    result = _python(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["config.settings.local"]


def test_manage_py_alone_defaults_to_local(tmp_path):
    env = _clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        OIDC_RSA_PRIVATE_KEY=rsa_private_key_generate(),
    )
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings as s;print(s.SETTINGS_MODULE, s.DEBUG)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["config.settings.local", "True"]
