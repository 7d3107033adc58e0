"""Metrics for Prometheus at /metrics (issue 15).

- Request latency and counts by view: django-prometheus's middleware
  (`django_http_requests_latency_seconds_by_view_method` and friends).
- Logins: `tunnus_logins_total{outcome="succeeded|failed|throttled"}`, counted in each process
  from the login signals (Django's `user_logged_in` / `user_login_failed`, and
  posti_accounts' `login_throttled` for allauth's "too many attempts"). allauth's per-address
  limit answers 429 before any form: that shows as
  `django_http_responses_total_by_status_view_method{status="429",view="account_login"}`.
- Read from the database and Redis when scraped, so every web process reports the same
  totals (cached for METRICS_CACHE_SECONDS): emails per campaign and status
  (`tunnus_campaign_emails`), Celery queue length (`tunnus_queue_length`, when REDIS_URL is
  set), merge progress (`tunnus_legacy_accounts{state}`).

With several gunicorn workers, set PROMETHEUS_MULTIPROC_DIR (an empty directory per host,
emptied at start) so the counters of all workers are summed (docs/deploy.md).

/metrics is not public: only clients whose address is in METRICS_ALLOWED_IPS (addresses or
networks, comma-separated) or that send `Authorization: Bearer <METRICS_TOKEN>` get it;
everyone else gets a 404, as if there were nothing there.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os

import prometheus_client
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, multiprocess
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

LOGINS = Counter("tunnus_logins", "Logins by outcome", ["outcome"])
for _outcome in ("succeeded", "failed", "throttled"):
    LOGINS.labels(_outcome)


def _on_logged_in(sender, request=None, user=None, **kwargs) -> None:
    LOGINS.labels("succeeded").inc()


def _on_login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    LOGINS.labels("failed").inc()


def _on_login_throttled(sender, request=None, **kwargs) -> None:
    LOGINS.labels("throttled").inc()


def receivers_connect() -> None:
    from posti_accounts.signals import login_throttled

    user_logged_in.connect(_on_logged_in, dispatch_uid="metrics_logged_in")
    user_login_failed.connect(_on_login_failed, dispatch_uid="metrics_login_failed")
    login_throttled.connect(_on_login_throttled, dispatch_uid="metrics_login_throttled")


# --- Read when scraped ----------------------------------------------------------------------
CACHE_KEY = "metrics:state"
ACTIVE_CAMPAIGN_STATUSES = ("scheduled", "sending", "paused")


def _campaign_emails() -> list[tuple[str, str, int]]:
    from django.db.models import Count

    from notifications.models import Delivery

    rows = (
        Delivery.objects.filter(campaign__status__in=ACTIVE_CAMPAIGN_STATUSES)
        .values_list("campaign_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [(str(campaign), status, n) for campaign, status, n in rows]


def _legacy_accounts() -> list[tuple[str, int]]:
    from django.db.models import Count

    from migration.models import LegacyAccount

    rows = LegacyAccount.objects.values_list("state").annotate(n=Count("id")).order_by()
    return [(state, n) for state, n in rows]


def _queue_lengths() -> list[tuple[str, int]]:
    if not settings.REDIS_URL:
        return []
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    queues = sorted({"celery", settings.CAMPAIGN_QUEUE})
    return [(queue, int(client.llen(queue))) for queue in queues]


def _state() -> dict:
    state = cache.get(CACHE_KEY) if settings.METRICS_CACHE_SECONDS else None
    if state is not None:
        return state
    state = {}
    for name, read in (
        ("campaign_emails", _campaign_emails),
        ("legacy_accounts", _legacy_accounts),
        ("queues", _queue_lengths),
    ):
        try:
            state[name] = read()
        except Exception:  # a metric must never take /metrics down
            logger.warning("metrics: could not read %s", name, exc_info=True)
            state[name] = None
    if settings.METRICS_CACHE_SECONDS:
        cache.set(CACHE_KEY, state, settings.METRICS_CACHE_SECONDS)
    return state


class StateCollector:
    def collect(self):
        state = _state()
        errors = GaugeMetricFamily(
            "tunnus_metrics_read_errors", "Metrics that could not be read on this scrape"
        )
        errors.add_metric([], sum(1 for value in state.values() if value is None))
        yield errors
        emails = GaugeMetricFamily(
            "tunnus_campaign_emails",
            "Deliveries of active campaigns by status",
            labels=["campaign", "status"],
        )
        for campaign, status, n in state.get("campaign_emails") or []:
            emails.add_metric([campaign, status], n)
        yield emails
        legacy = GaugeMetricFamily(
            "tunnus_legacy_accounts", "Legacy accounts by merge state", labels=["state"]
        )
        for state_name, n in state.get("legacy_accounts") or []:
            legacy.add_metric([state_name], n)
        yield legacy
        queues = GaugeMetricFamily(
            "tunnus_queue_length", "Messages waiting in a Celery queue", labels=["queue"]
        )
        for queue, n in state.get("queues") or []:
            queues.add_metric([queue], n)
        yield queues


STATE_REGISTRY = CollectorRegistry(auto_describe=False)
STATE_REGISTRY.register(StateCollector())


# --- The view -------------------------------------------------------------------------------
def _networks() -> list:
    networks = []
    for item in settings.METRICS_ALLOWED_IPS:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            logger.warning("METRICS_ALLOWED_IPS: %r is not an address or network", item)
    return networks


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    given = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks())


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    body = prometheus_client.generate_latest(registry) + prometheus_client.generate_latest(
        STATE_REGISTRY
    )
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
