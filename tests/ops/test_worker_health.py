"""Worker and scheduler heartbeats, and the campaign admin's warning (issue 15)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from config import tasks, worker_health
from notifications.models import Campaign
from posti_accounts.services import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(settings):
    """As in production: tasks go to workers, so their absence matters."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.HEALTH_SCHEDULER_STALE_SECONDS = 180
    settings.HEALTH_WORKER_STALE_SECONDS = 180


@pytest.fixture
def admin_client(client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    user = user_create(email="ops-admin@posti.example", email_verified=True)
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def _fi(message, **values) -> str:
    with translation.override("fi"):
        text = str(message)
    return text % values if values else text


def test_no_warning_without_a_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert worker_health.health_get().ok


def test_never_heard_from_is_told(broker):
    health = worker_health.health_get()
    assert health.problems == [
        str(worker_health.MSG_SCHEDULER_NEVER),
        str(worker_health.MSG_WORKERS_NEVER),
    ]


def test_recent_heartbeats_are_fine_and_old_ones_are_told(broker):
    now = time.time()
    worker_health.scheduler_heartbeat_record(now - 60)
    worker_health.worker_heartbeat_record("w1", now - 30)
    assert worker_health.health_get(now=now).ok

    worker_health.scheduler_heartbeat_record(now - 600)
    worker_health.worker_heartbeat_record("w1", now - 420)
    assert worker_health.health_get(now=now).problems == [
        str(worker_health.MSG_SCHEDULER % {"minutes": 10}),
        str(worker_health.MSG_WORKERS % {"minutes": 7}),
    ]


def test_signals_and_the_heartbeat_task_record(broker, monkeypatch):
    from celery.signals import beat_init, before_task_publish, worker_ready

    # A web process publishing a task is not the scheduler.
    before_task_publish.send(sender="x", headers={}, body=None, properties={})
    assert worker_health.health_get().problems[0] == str(worker_health.MSG_SCHEDULER_NEVER)

    monkeypatch.setattr(worker_health, "_in_beat", False)
    beat_init.send(sender=None)
    assert worker_health._in_beat
    before_task_publish.send(sender="x", headers={}, body=None, properties={})
    problems = worker_health.health_get().problems
    assert problems == [str(worker_health.MSG_WORKERS_NEVER)]

    class Consumer:
        hostname = "celery@w1"

    worker_ready.send(sender=Consumer())
    assert worker_health.health_get().ok

    worker_health.worker_heartbeat_record("old", time.time() - 3600)
    tasks.health_heartbeat.apply()
    assert worker_health.health_get().ok


def test_beat_schedules_the_heartbeat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["health-heartbeat"]
    assert entry["task"] == "config.tasks.health_heartbeat"
    assert entry["task"] in tasks.health_heartbeat.app.tasks


def test_campaign_admin_pages_warn(broker, admin_client):
    campaign = Campaign.objects.create(name="Kampanja", kind="announcement")
    pages = [
        reverse("admin:notifications_campaign_changelist"),
        reverse("admin:notifications_campaign_change", args=[campaign.pk]),
        reverse("admin:notifications_campaign_control", args=[campaign.pk]),
    ]
    assert _fi(worker_health.MSG_SCHEDULER_NEVER).startswith("Ajastimesta")  # translated
    for url in pages:
        html = admin_client.get(url).content.decode()
        assert 'class="messagelist worker-health"' in html, url
        assert _fi(worker_health.MSG_SCHEDULER_NEVER) in html.replace("&#x27;", "'"), url

    worker_health.scheduler_heartbeat_record()
    worker_health.worker_heartbeat_record("w1")
    for url in pages:
        assert "worker-health" not in admin_client.get(url).content.decode(), url


def test_heartbeat_check_command(broker):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="never"):
        call_command("heartbeat_check", "scheduler")
    worker_health.scheduler_heartbeat_record(time.time() - 1000)
    with pytest.raises(CommandError, match="last heard from"):
        call_command("heartbeat_check", "scheduler")
    worker_health.scheduler_heartbeat_record()
    call_command("heartbeat_check", "scheduler")
    worker_health.worker_heartbeat_record("w1")
    call_command("heartbeat_check", "worker")
