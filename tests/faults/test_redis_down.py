"""Redis stopped: people still log in and use Omat tiedot, the organization pages and the
API (sessions are in PostgreSQL; the cache degrades to none, so rate limits are not
enforced meanwhile), and nothing is a 500. Emails and campaign batches wait and go out
exactly once when Redis is back."""

from __future__ import annotations

import pytest
from celery import current_app
from django.test import Client

from notifications import services
from notifications.models import Campaign
from posti_accounts.models import OutboundEmail

pytestmark = [pytest.mark.faults]


@pytest.fixture
def redis_settings(settings, private_redis):
    """The portal configured as in production against the private Redis: the Redis cache,
    Redis as the Celery broker (tasks go to the broker, not run in-process)."""
    settings.REDIS_URL = private_redis.url
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.DegradingRedisCache",
            "LOCATION": private_redis.url,
            "KEY_PREFIX": "faults",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    conf = current_app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.broker_connection_timeout)
    conf.broker_url, conf.task_always_eager, conf.broker_connection_timeout = (
        private_redis.url,
        False,
        1,
    )
    current_app._pool = None
    current_app.amqp._producer_pool = None
    yield private_redis
    conf.broker_url, conf.task_always_eager, conf.broker_connection_timeout = saved
    current_app._pool = None
    current_app.amqp._producer_pool = None


def _client() -> Client:
    return Client(raise_request_exception=False)  # a 500 is a response here, not a raise


@pytest.mark.django_db(transaction=True)
def test_portal_works_while_redis_is_stopped(redis_settings, world, bearer):
    from django.core.cache import cache

    cache.set("probe", 1)
    assert cache.get("probe") == 1  # the cache really is the private Redis
    redis_settings.stop()

    main_user = world["main_a"]
    browser = _client()
    response = browser.post("/accounts/login/", {"login": main_user.email, "password": "x" * 16})
    assert response.status_code == 302, response.content[:500]
    assert browser.get("/profile/").status_code == 200
    organization = world["org_a"]
    assert browser.get(f"/organizations/{organization.pk}/").status_code == 200
    response = browser.post(
        "/profile/", {"first_name": "Maija", "last_name": "Uusi", "preferred_language": "fi"}
    )
    assert response.status_code in (200, 302)
    api = bearer(world["member_a"], ["openid", "profile", "organizations"])
    assert api.get("/api/v1/me").status_code == 200
    assert api.get("/api/v1/me/organizations").status_code == 200
    # A wrong password is still refused (and is not a 500 without the rate-limit cache).
    other = _client()
    response = other.post("/accounts/login/", {"login": main_user.email, "password": "wrong"})
    assert response.status_code == 200
    # An email the portal sends meanwhile waits in the outbox (the broker is down too).
    response = other.post("/accounts/password/reset/", {"email": world["member_a"].email})
    assert response.status_code == 302
    assert OutboundEmail.objects.filter(
        to=world["member_a"].email, status=OutboundEmail.Status.PENDING
    ).exists()
    assert _client().get("/readyz").status_code == 503
    assert _client().get("/healthz").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_start_now_while_redis_is_stopped_waits_for_the_dispatcher(redis_settings, staff):
    campaign = services.campaign_create(actor=staff, name="Wait", kind=Campaign.Kind.ANNOUNCEMENT)
    redis_settings.stop()
    services.campaign_start_request(campaign=campaign, actor=staff)  # no error: committed
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED and campaign.scheduled_at is not None


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_emails_and_campaign_wait_for_redis_then_go_out_once(
    redis_settings, smtp_server, staff, make_user, settings, tmp_path
):
    """With a real Celery worker (and its beat) against the private Redis, once it is back."""
    import os
    import uuid
    from collections import Counter

    from posti_accounts.emails import email_send_rendered, outbound_emails_sweep
    from tests.notifications.test_integration_worker import (
        _database_url,
        _start_worker,
        _stop,
    )

    from .conftest import wait_for

    # Staff are left out of an audience unless it includes them (the campaign's own rule).
    recipients = {make_user().email for _ in range(6)}
    campaign = services.campaign_create(actor=staff, name="After", kind=Campaign.Kind.ANNOUNCEMENT)
    redis_settings.stop()
    services.campaign_start_request(campaign=campaign, actor=staff)
    email = email_send_rendered(to="reset@example.fi", subject="Salasana", text="Linkki")
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.PENDING  # committed, not queued: broker down

    redis_settings.start()  # back, and empty: nothing queued before survived
    run_id = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "False",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_settings.url,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "CAMPAIGN_QUEUE": "celery",
        "CAMPAIGN_DISPATCH_INTERVAL": "1",
        "CAMPAIGN_SENDER_HEARTBEAT": "2",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    worker = _start_worker(env, tmp_path, "faults", concurrency=1, run_id=run_id)
    try:
        # Beat's sweep hands unsent outbox rows to the broker again; run once here at once.
        settings.OUTBOUND_EMAIL_SWEEP_AFTER_SECONDS = 0
        assert outbound_emails_sweep() == 1

        def done() -> bool:
            campaign.refresh_from_db()
            email.refresh_from_db()
            return (
                campaign.status == Campaign.Status.DONE
                and email.status == OutboundEmail.Status.SENT
            )

        wait_for(done, 150, "the campaign and the email after Redis came back", interval=0.5)
        import time

        time.sleep(2)  # a duplicate, if any, would arrive now
    finally:
        _stop(worker)
    by_rcpt = Counter(r for m in smtp_server.messages for r in m["to"])
    assert set(by_rcpt) == recipients | {"reset@example.fi"}
    assert max(by_rcpt.values()) == 1, by_rcpt
