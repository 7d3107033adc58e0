"""The dispatcher is the only scheduler: senders hold bounded slots, nothing re-enqueues
itself for later, and kicking a campaign again never piles up senders."""

import pytest
from django.core import mail

from notifications import sender_slots, services, tasks
from notifications.models import Campaign, Delivery

from .conftest import start

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(settings, monkeypatch):
    """Tasks go to a queue (recorded here) instead of running in-process, as with a broker.
    The real broker and worker run in test_integration_worker.py."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CAMPAIGN_SEND_CONCURRENCY = 2
    sent: list[dict] = []

    def apply_async(args=None, kwargs=None, **options):
        sent.append({"args": list(args or []), **options})

    monkeypatch.setattr(tasks.campaign_send, "apply_async", apply_async)
    return sent


def test_kick_fills_free_slots_only(make_user, make_campaign, staff, broker):
    make_user()
    campaign = make_campaign()
    start(campaign, staff)
    assert services.campaign_kick(campaign_id=campaign.pk) == 2
    assert sorted(m["args"][1] for m in broker) == [0, 1]
    # Every later kick (dispatcher ticks, resume, retry, a second start click) adds nobody
    # while both senders hold their slots.
    for _ in range(3):
        assert services.campaign_kick(campaign_id=campaign.pk) == 0
    assert len(broker) == 2


def test_sender_frees_its_slot_when_idle(make_user, make_campaign, staff, broker):
    make_user()
    campaign = make_campaign()
    start(campaign, staff)
    services.campaign_kick(campaign_id=campaign.pk)
    broker.clear()
    tasks.campaign_send(campaign.pk, 0)  # the worker runs slot 0's task: sends everything
    assert len(mail.outbox) == 2
    assert broker == []  # idle: no continuation
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    # Slot 0 is free again, slot 1 still taken.
    assert services.campaign_kick(campaign_id=campaign.pk) == 1
    assert broker[0]["args"] == [campaign.pk, 0]


def test_throttled_sender_schedules_nothing(make_user, make_campaign, staff, broker):
    for _ in range(3):
        make_user()
    campaign = make_campaign(throttle_per_minute=1)
    start(campaign, staff)
    tasks.campaign_send(campaign.pk, 0)
    assert len(mail.outbox) == 1
    # No countdown/ETA task: the dispatcher's next tick brings the sender back.
    assert broker == []
    assert sender_slots.sender_slot_claim(campaign_id=campaign.pk, slot=0) is True


def test_budget_continues_in_the_same_slot_without_delay(
    make_user, make_campaign, staff, broker, settings
):
    settings.CAMPAIGN_BATCH_SIZE = 1
    settings.CAMPAIGN_TASK_MAX_SECONDS = 0  # the budget is used after one batch
    for _ in range(2):
        make_user()
    campaign = make_campaign()
    start(campaign, staff)
    tasks.campaign_send(campaign.pk, 1)
    assert len(mail.outbox) == 1
    assert len(broker) == 1
    assert broker[0]["args"] == [campaign.pk, 1]
    assert "countdown" not in broker[0] and "eta" not in broker[0]
    # The continuation keeps the slot: a kick now starts only slot 0.
    assert services.campaign_kick(campaign_id=campaign.pk) == 1


def test_dispatcher_kicks_only_campaigns_with_due_work(make_user, make_campaign, staff, broker):
    make_user()
    busy = make_campaign(name="busy")
    start(busy, staff)
    paused = make_campaign(name="paused")
    start(paused, staff)
    from notifications import services

    services.campaign_pause(campaign=paused, actor=staff)
    assert services.campaigns_dispatch_run() == {"started": 0, "kicked": 1}  # campaigns
    assert sorted(m["args"] for m in broker) == [[busy.pk, 0], [busy.pk, 1]]
    # The next tick finds both slots held.
    assert services.campaigns_dispatch_run() == {"started": 0, "kicked": 0}
    assert Delivery.objects.filter(campaign=busy, status=Delivery.Status.PENDING).count() == 2
