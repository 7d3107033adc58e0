"""/healthz and /readyz for load balancers: no session, no CSRF, no login redirects, no
details an outsider could use; /readyz says 503 when PostgreSQL, the migrations or (when
configured) Redis are not ready."""

import socket

import pytest
from django.db import OperationalError
from django.test import Client

from posti_accounts.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _no_redis(settings):
    settings.REDIS_URL = ""


def test_healthz_is_up_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    assert not response.cookies  # no session, no CSRF cookie, no language cookie


def test_readyz_ok_with_a_minimal_body(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert not response.cookies


def test_probes_answer_a_load_balancer_by_ip_and_over_plain_http(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["portal.example.fi"]
    probe = Client(HTTP_HOST="10.0.0.7")
    for path in ("/healthz", "/readyz"):
        assert probe.get(path).status_code == 200, path


def test_probes_skip_login_required_actions_and_csrf(client, user):
    user.requires_update_password = True
    user.save(update_fields=["requires_update_password"])
    client.force_login(user)
    csrf = Client(enforce_csrf_checks=True)
    for path in ("/healthz", "/readyz"):
        assert client.get(path).status_code == 200, path  # not sent to the action page
        assert csrf.post(path).status_code == 405, path  # read-only, yet never a CSRF 403


def test_readyz_503_when_migrations_are_not_applied(client, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    from config import health

    health.migrations_checked_at.clear()
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [("unapplied", False)]
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.content == b"unavailable\n"
    assert b"migration" not in response.content.lower()


def test_readyz_503_when_the_database_is_unreachable(client, user, monkeypatch):
    from health_check import checks

    class Down:
        def temporary_connection(self):
            raise OperationalError("connection refused on 10.1.2.3:5432")

    monkeypatch.setattr(checks, "connections", {"default": Down()})
    client.force_login(user)
    before = AuditEvent.objects.count()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.content == b"unavailable\n"
    assert b"10.1.2.3" not in response.content
    assert AuditEvent.objects.count() == before  # not an access.denied event


def test_readyz_checks_redis_only_when_configured(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    settings.REDIS_URL = ""
    assert client.get("/readyz").status_code == 200


@pytest.mark.redis
def test_readyz_ok_with_the_configured_redis(client, settings):
    import os

    settings.REDIS_URL = os.environ["REDIS_URL"]
    assert client.get("/readyz").status_code == 200


def test_checks_run_even_when_the_thread_already_runs_an_event_loop():
    """Browser tests (Playwright) and ASGI servers run a loop in the calling thread."""
    import asyncio
    import dataclasses

    from health_check.base import HealthCheck
    from health_check.exceptions import ServiceUnavailable

    from config import health

    @dataclasses.dataclass
    class Up(HealthCheck):
        def run(self):
            pass

    @dataclasses.dataclass
    class Down(HealthCheck):
        def run(self):
            raise ServiceUnavailable("down")

    def probe():
        return health.checks_pass([Up()]), health.checks_pass([Up(), Down()])

    async def inside_a_loop():
        return probe()

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop here yet: run the probe inside one
        assert asyncio.run(inside_a_loop()) == (True, False)
    else:  # a loop already runs in this thread (after the browser tests)
        assert probe() == (True, False)
