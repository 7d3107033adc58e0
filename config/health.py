"""Probes for load balancers and orchestrators, built on django-health-check.

- `/healthz`: the process is up and serving (no database, no Redis).
- `/readyz`: PostgreSQL answers, every migration is applied, and Redis answers when
  REDIS_URL is configured. 200 "ok" or 503 "unavailable", nothing more: which part failed is
  logged (the library's `health_check` logger), never shown to the caller.

`HealthProbeMiddleware` comes first in MIDDLEWARE and answers these two paths itself, before
the host check, the HTTPS redirect, sessions, CSRF, language, login and required-action
middleware and the access-denied audit: a load balancer probes a backend by its address
over plain HTTP, and a probe must neither create a session nor be redirected. The same views
are in the URL conf (so they can be reversed and tested the ordinary way).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

from django import db
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.exceptions import ServiceUnavailable

HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
MIGRATIONS_RECHECK_SECONDS = 60

# Process-wide: when the migrations were last seen all applied (they stay applied for this
# code until the database is replaced, so a probe need not load the graph every time).
migrations_checked_at: dict[str, float] = {}


@dataclasses.dataclass
class MigrationsApplied(HealthCheck):
    """Every migration of this code is applied to the database (a release that migrates
    after starting the new web processes would otherwise serve from a stale schema)."""

    alias: str = "default"

    def run(self):
        checked = migrations_checked_at.get(self.alias)
        if checked is not None and time.monotonic() - checked < MIGRATIONS_RECHECK_SECONDS:
            return
        from django.db.migrations.executor import MigrationExecutor

        connection = db.connections[self.alias]
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except db.Error as exc:
            raise ServiceUnavailable("database unavailable") from exc
        finally:
            connection.close()  # this thread's own connection: do not keep it
        if plan:
            raise ServiceUnavailable("migrations not applied")
        migrations_checked_at[self.alias] = time.monotonic()


def _redis_check(url: str) -> HealthCheck:
    from health_check.contrib.redis import Redis
    from redis.asyncio import Redis as RedisClient

    return Redis(
        client_factory=lambda: RedisClient.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    )


def readiness_checks() -> list[HealthCheck]:
    checks: list[HealthCheck] = [Database(), MigrationsApplied()]
    if settings.REDIS_URL:
        checks.append(_redis_check(settings.REDIS_URL))
    return checks


async def _gather(checks: list[HealthCheck]) -> bool:
    results = await asyncio.gather(*(check.get_result() for check in checks))
    return not any(result.error for result in results)


def checks_pass(checks: list[HealthCheck]) -> bool:
    """Run the (async) checks in their own event loop on a short-lived thread, so the caller
    may be a plain WSGI thread or one that already runs a loop."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz") as pool:
        return pool.submit(asyncio.run, _gather(checks)).result()


def _plain(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    add_never_cache_headers(response)
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return _plain("ok")


def readyz(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if checks_pass(readiness_checks()):
        return _plain("ok")
    return _plain("unavailable", status=503)


PROBES = {HEALTHZ_PATH: healthz, READYZ_PATH: readyz}


class HealthProbeMiddleware:
    """Answers the probe paths before any other middleware (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        probe = PROBES.get(request.path_info.rstrip("/") or "/")
        if probe is not None:
            return probe(request)
        return self.get_response(request)
