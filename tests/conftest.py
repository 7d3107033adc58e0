"""Shared fixtures and the service gates.

Tests marked `postgres`, `redis` or `e2e` skip with the reason when the service is absent, and
fail instead when REQUIRE_SERVICES=1 (CI), so a missing service can never pass silently.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _redis_reachable() -> bool:
    url = os.environ.get("REDIS_URL")
    if not url:
        return False
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def _postgres_in_use() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_collection_modifyitems(config, items):
    checks = {
        "postgres": (_postgres_in_use(), "needs PostgreSQL: set DATABASE_URL=postgres://..."),
        "redis": (_redis_reachable(), "needs Redis: set REDIS_URL=redis://..."),
        "e2e": (
            os.path.exists(CHROMIUM) or shutil.which("chromium") is not None,
            f"needs Chromium at {CHROMIUM}",
        ),
    }
    for item in items:
        for marker, (available, reason) in checks.items():
            if item.get_closest_marker(marker) is None or available:
                continue
            if REQUIRE_SERVICES:
                item.add_marker(pytest.mark.usefixtures("_missing_service_" + marker))
            else:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def _missing_service_postgres():
    pytest.fail("REQUIRE_SERVICES=1 but PostgreSQL is not configured (DATABASE_URL)")


@pytest.fixture
def _missing_service_redis():
    pytest.fail("REQUIRE_SERVICES=1 but Redis is not reachable (REDIS_URL)")


@pytest.fixture
def _missing_service_e2e():
    pytest.fail(f"REQUIRE_SERVICES=1 but Chromium is missing at {CHROMIUM}")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache; each test starts clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password() -> str:
    return "correct-horse-battery-staple-42"


@pytest.fixture
def user(db, password):
    from tests.factories import UserFactory

    return UserFactory(password=password)


@pytest.fixture
def client_logged_in(client, user):
    client.force_login(user)
    return client
