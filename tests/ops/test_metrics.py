"""Prometheus metrics (issue 15): /metrics is not public, login outcomes are counted, and the
campaign, queue and merge figures come from the database."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from notifications.models import Campaign, Delivery
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scrape-token-for-tests-0123456789"  # noqa: S105


def _scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _value(text: str, name: str, labels: str = "") -> float:
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{wanted} not in the metrics")


@override_settings(METRICS_ALLOWED_IPS=[], METRICS_TOKEN="")
def test_metrics_are_not_public(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@override_settings(METRICS_ALLOWED_IPS=[], METRICS_TOKEN=TOKEN)
def test_bearer_token_opens_metrics(client):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 404
    text = _scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "tunnus_logins_total" in text


@override_settings(METRICS_ALLOWED_IPS=["10.0.0.0/8", "192.0.2.7"], METRICS_TOKEN="")
def test_allowed_addresses_open_metrics(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 404
    # A forwarded address does not count: the scraper connects to the process itself.
    response = client.get("/metrics", REMOTE_ADDR="192.0.2.8", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert response.status_code == 404


@override_settings(METRICS_ALLOWED_IPS=["127.0.0.1"], METRICS_CACHE_SECONDS=0)
def test_login_outcomes_are_counted(client, user, password):
    before = _scrape(client)
    ok0 = _value(before, "tunnus_logins_total", 'outcome="succeeded"')
    failed0 = _value(before, "tunnus_logins_total", 'outcome="failed"')
    throttled0 = _value(before, "tunnus_logins_total", 'outcome="throttled"')

    login = reverse("account_login")
    client.post(login, {"login": user.email, "password": "wrong-password-123456"})
    client.post(login, {"login": user.email, "password": password})
    client.logout()
    with override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "1/m/key"}):
        client.post(login, {"login": user.email, "password": "wrong-password-123456"})
        client.post(login, {"login": user.email, "password": "wrong-password-123456"})

    after = _scrape(client)
    assert _value(after, "tunnus_logins_total", 'outcome="succeeded"') == ok0 + 1
    assert _value(after, "tunnus_logins_total", 'outcome="failed"') == failed0 + 2
    assert _value(after, "tunnus_logins_total", 'outcome="throttled"') == throttled0 + 1


@override_settings(METRICS_ALLOWED_IPS=["127.0.0.1"], METRICS_CACHE_SECONDS=0)
def test_request_latency_by_view(client):
    client.get(reverse("account_login"))
    text = _scrape(client)
    assert (
        'django_http_requests_latency_seconds_by_view_method_count{method="GET",view="account_login"}'
        in text
    )


@override_settings(METRICS_ALLOWED_IPS=["127.0.0.1"], METRICS_CACHE_SECONDS=0)
def test_campaign_emails_and_merge_progress_from_the_database(client):
    campaign = Campaign.objects.create(name="Kampanja", kind="announcement", status="sending")
    done = Campaign.objects.create(name="Valmis", kind="announcement", status="done")
    users = [UserFactory() for _ in range(4)]
    for user, status in zip(users, ["sent", "sent", "failed", "pending"], strict=True):
        Delivery.objects.create(campaign=campaign, user=user, status=status)
    Delivery.objects.create(campaign=done, user=users[0], status="sent")

    text = _scrape(client)
    labels = f'campaign="{campaign.pk}",status='
    assert _value(text, "tunnus_campaign_emails", labels + '"sent"') == 2
    assert _value(text, "tunnus_campaign_emails", labels + '"failed"') == 1
    assert _value(text, "tunnus_campaign_emails", labels + '"pending"') == 1
    assert f'campaign="{done.pk}"' not in text  # finished campaigns drop out
    assert _value(text, "tunnus_metrics_read_errors") == 0
    assert "tunnus_legacy_accounts" in text


@override_settings(METRICS_ALLOWED_IPS=["127.0.0.1"], METRICS_CACHE_SECONDS=0)
def test_a_failing_figure_does_not_take_metrics_down(client, monkeypatch):
    from config import metrics

    def broken():
        raise RuntimeError("database away")

    monkeypatch.setattr(metrics, "_legacy_accounts", broken)
    text = _scrape(client)
    assert _value(text, "tunnus_metrics_read_errors") == 1


@pytest.mark.redis
def test_queue_length_from_redis(client):
    import os

    import redis

    url = os.environ["REDIS_URL"]
    queue = "ops-metrics-test-queue"
    r = redis.Redis.from_url(url)
    r.delete(queue)
    r.rpush(queue, "a", "b", "c")
    try:
        with override_settings(
            REDIS_URL=url,
            CAMPAIGN_QUEUE=queue,
            METRICS_ALLOWED_IPS=["127.0.0.1"],
            METRICS_CACHE_SECONDS=0,
        ):
            text = _scrape(client)
    finally:
        r.delete(queue)
    assert _value(text, "tunnus_queue_length", f'queue="{queue}"') == 3
