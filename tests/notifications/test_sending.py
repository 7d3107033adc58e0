from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import Count
from django.utils import timezone

from kernel.errors import ApplicationError
from notifications import redis_client, send_journal, sender_slots, sending, services, throttle
from notifications.models import Campaign, Delivery, delivery_message_id
from tests.factories import MembershipFactory, OrganizationFactory

from .conftest import start

pytestmark = pytest.mark.django_db


def _started(make_user, make_campaign, staff, n=3, **fields):
    users = [make_user() for _ in range(n)]
    campaign = make_campaign(**fields)
    start(campaign, staff)
    return campaign, users


def test_batch_sends_each_pending_row_once_with_message_id(make_user, make_campaign, staff):
    campaign, users = _started(make_user, make_campaign, staff, n=4)
    result = sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert result.sent == 5 and result.claimed == 5
    assert sorted(m.to[0] for m in mail.outbox) == sorted([u.email for u in users] + [staff.email])
    sent = Delivery.objects.filter(campaign=campaign)
    assert set(sent.values_list("status", flat=True)) == {Delivery.Status.SENT}
    ids = {d.pk: d.user.email for d in sent.select_related("user")}
    by_msgid = {m.extra_headers["Message-ID"]: m.to[0] for m in mail.outbox}
    assert by_msgid == {
        delivery_message_id(campaign_id=campaign.pk, delivery_id=pk): email
        for pk, email in ids.items()
    }
    # A duplicated or redelivered task finds nothing left to send.
    again = sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert again.claimed == 0 and len(mail.outbox) == 5


def test_send_loop_finishes_campaign(make_user, make_campaign, staff, settings):
    settings.CAMPAIGN_BATCH_SIZE = 2
    campaign, _users = _started(make_user, make_campaign, staff, n=6)
    total, reason = sending.campaign_send_loop(campaign_id=campaign.pk)
    assert (total, reason) == (7, "idle")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE and campaign.finished_at
    assert len(mail.outbox) == 7


@pytest.mark.parametrize(
    ("language", "subject", "phrase"),
    [
        ("fi", "Vahvista sähköpostiosoitteesi ja vaihda salasanasi", "Hei Aino"),
        ("sv", "Bekräfta din e-postadress och byt lösenord", "Hej Aino"),
        ("en", "Confirm your email address and set a new password", "Hello Aino"),
    ],
)
def test_rendered_in_recipient_language(
    make_user, make_campaign, staff, settings, language, subject, phrase
):
    settings.SITE_URL = "https://tunnus.example"
    user = make_user(language=language, first_name="Aino")
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW, audience_language=language)
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    [message] = [m for m in mail.outbox if m.to == [user.email]]
    assert message.subject == subject
    assert phrase in message.body
    assert user.email in message.body
    assert "https://tunnus.example/n/a/" in message.body
    assert "{{" not in message.body


def test_template_variables(make_user, make_campaign, staff, settings):
    settings.SITE_URL = "https://tunnus.example"
    user = make_user(first_name="Olli", language="en")
    org_b, org_a = OrganizationFactory(name="Beta Oy"), OrganizationFactory(name="Alfa Oy")
    MembershipFactory(user=user, organization=org_b)
    MembershipFactory(user=user, organization=org_a)
    campaign = make_campaign(
        kind=Campaign.Kind.MERGE_NOTICE,
        cutover_date=timezone.datetime(2027, 1, 31).date(),
        audience_language="en",
        subject_en="{{ first_name }} {{ last_name }} & <{{ email }}>",
        body_en=("{{ organization_names }}|{{ cutover_date }}|{{ site_url }}|{{ action_url }}"),
    )
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    [message] = mail.outbox
    # Plain text: nothing is HTML-escaped.
    assert message.subject == f"Olli Meikäläinen & <{user.email}>"
    orgs, cutover, site, link = message.body.split("|")
    assert orgs == "Alfa Oy, Beta Oy"
    assert cutover == "31 Jan 2027"  # English dates day first (issue 17), not US
    assert site == "https://tunnus.example"
    assert link == "https://tunnus.example/accounts/login/"


def test_cutover_date_localized_fi(make_user, make_campaign, staff):
    make_user(language="fi")
    campaign = make_campaign(
        kind=Campaign.Kind.MERGE_NOTICE,
        cutover_date=timezone.datetime(2027, 1, 31).date(),
        audience_language="fi",
    )
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert "31.1.2027 alkaen" in mail.outbox[0].body


@pytest.mark.parametrize("size", [5, 40])
def test_batch_query_count_bounded(
    make_user, make_campaign, staff, django_assert_max_num_queries, size
):
    org = OrganizationFactory()
    for _ in range(size):
        MembershipFactory(user=make_user(), organization=org)
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW, organizations=[org])
    start(campaign, staff)
    # campaign, claim (+savepoint pair), users, organizations, tokens, outcome (+savepoint)
    with django_assert_max_num_queries(10):
        result = sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert result.sent == size
    assert len(mail.outbox) == size


def test_throttle_honoured_per_window(make_user, make_campaign, staff, clock, settings):
    settings.CAMPAIGN_BATCH_SIZE = 200
    campaign, _ = _started(make_user, make_campaign, staff, n=24, throttle_per_minute=10)
    sent_per_window = []
    for _window in range(3):
        total = 0
        for _ in range(3):  # several workers asking in the same minute
            total += sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock).sent
        sent_per_window.append(total)
        clock.advance(minutes=1)
    assert sent_per_window == [10, 10, 5]
    assert len(mail.outbox) == 25


def test_throttle_bucket_shared_between_callers(db, clock):
    now = clock()
    grants = [
        throttle.throttle_acquire(campaign_id=99, per_minute=250, want=100, now=now)
        for _ in range(4)
    ]
    assert grants == [100, 100, 50, 0]
    clock.advance(seconds=60)
    assert throttle.throttle_acquire(campaign_id=99, per_minute=250, want=100, now=clock()) == 100
    # Other campaigns have their own budget; 0 means unlimited.
    assert throttle.throttle_acquire(campaign_id=7, per_minute=0, want=500, now=now) == 500


def test_send_loop_stops_when_throttled(make_user, make_campaign, staff, clock):
    campaign, _ = _started(make_user, make_campaign, staff, n=5, throttle_per_minute=2)
    total, reason = sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)
    assert (total, reason) == (2, "throttled")


def test_pause_resume_cancel(make_user, make_campaign, staff, settings):
    settings.CAMPAIGN_BATCH_SIZE = 2
    campaign, _ = _started(make_user, make_campaign, staff, n=7)  # 8 recipients
    assert sending.deliveries_send_batch(campaign_id=campaign.pk).sent == 2
    services.campaign_pause(campaign=campaign, actor=staff)
    result = sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert result.stopped and result.sent == 0
    assert sending.campaign_send_loop(campaign_id=campaign.pk) == (0, "stopped")
    assert len(mail.outbox) == 2
    services.campaign_resume(campaign=campaign, actor=staff)
    assert sending.deliveries_send_batch(campaign_id=campaign.pk).sent == 2
    services.campaign_cancel(campaign=campaign, actor=staff)
    assert sending.deliveries_send_batch(campaign_id=campaign.pk).stopped
    counts = dict(
        Delivery.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    assert counts == {Delivery.Status.SENT: 4, Delivery.Status.SKIPPED: 4}
    assert len(mail.outbox) == 4
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED


def test_stale_claims_reclaimed_without_resending_journaled(
    make_user, make_campaign, staff, clock, settings
):
    """A worker died mid-batch: it had sent (and journaled) two rows, not the others."""
    settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS = 300
    campaign, _ = _started(make_user, make_campaign, staff, n=4)  # 5 recipients
    claimed = sending.deliveries_claim(campaign_id=campaign.pk, limit=5, now=clock())
    sent_before_crash = [pk for pk, _ in claimed[:2]]
    for pk in sent_before_crash:
        send_journal.journal_record_sent(delivery_id=pk, when=clock())
    # Not yet stale: nothing is reclaimed, nothing claimable.
    clock.advance(seconds=299)
    assert sending.deliveries_reclaim_stale(campaign_id=campaign.pk, now=clock()) == 0
    assert sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock).claimed == 0
    clock.advance(seconds=2)
    total, reason = sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)
    assert (total, reason) == (3, "idle")
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == {
        delivery_message_id(campaign_id=campaign.pk, delivery_id=pk) for pk, _ in claimed[2:]
    }
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENT).count() == 5
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE


def test_scheduled_campaign_started_by_dispatcher(make_user, make_campaign, staff):
    from notifications.services import campaigns_dispatch_run

    make_user()
    campaign = make_campaign()
    services.campaign_schedule(
        campaign=campaign, actor=staff, at=timezone.now() + timedelta(hours=1)
    )
    assert campaigns_dispatch_run()["started"] == 0
    assert campaigns_dispatch_run(now=timezone.now() + timedelta(hours=2))["started"] == 1
    campaign.refresh_from_db()
    # In-process (eager) mode the dispatcher's kick sends right away.
    assert campaign.status == Campaign.Status.DONE
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENT).count() == 2
    assert len(mail.outbox) == 2
    # Later ticks find nothing to start or kick.
    assert campaigns_dispatch_run(now=timezone.now() + timedelta(hours=3)) == {
        "started": 0,
        "kicked": 0,
    }


def test_start_sends_after_commit_in_process_mode(
    make_user, make_campaign, staff, django_capture_on_commit_callbacks
):
    """Without a broker (eager mode) starting a campaign sends it after the commit."""
    make_user()
    campaign = make_campaign()
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=campaign, actor=staff)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    assert len(mail.outbox) == 2


def test_deactivated_recipient_skipped(make_user, make_campaign, staff):
    from django.contrib.auth import get_user_model

    gone = make_user()
    campaign, _ = _started(make_user, make_campaign, staff, n=1)
    get_user_model().objects.filter(pk=gone.pk).update(is_active=False)
    result = sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert result.sent == 2
    assert Delivery.objects.get(campaign=campaign, user=gone).status == Delivery.Status.SKIPPED
    assert gone.email not in [m.to[0] for m in mail.outbox]


def test_dispatch_command(make_user, make_campaign, staff):
    from io import StringIO

    from django.core.management import call_command

    make_user()
    campaign = make_campaign()
    services.campaign_schedule(campaign=campaign, actor=staff, at=timezone.now())
    out = StringIO()
    call_command("campaigns_dispatch", stdout=out)
    assert out.getvalue().startswith("started 1, kicked ")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    assert len(mail.outbox) == 2


@pytest.mark.redis
def test_throttle_and_journal_on_redis(settings, clock):
    """The multi-worker path: budget and journal shared through Redis."""
    import os
    import uuid

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
    settings.CAMPAIGN_CACHE_PREFIX = f"campaign-test-{uuid.uuid4().hex}"
    client = redis_client.redis_client()
    try:
        now = clock()
        grants = [
            throttle.throttle_acquire(campaign_id=1, per_minute=250, want=100, now=now)
            for _ in range(4)
        ]
        assert grants == [100, 100, 50, 0]
        clock.advance(minutes=1)
        assert (
            throttle.throttle_acquire(campaign_id=1, per_minute=250, want=100, now=clock()) == 100
        )
        send_journal.journal_record_sent(delivery_id=5, when=now)
        assert set(send_journal.journal_sent_among([4, 5, 6])) == {5}
        send_journal.journal_forget([5])
        assert send_journal.journal_sent_among([5]) == {}
        assert sender_slots.sender_slot_claim(campaign_id=1, slot=0) is True
        assert sender_slots.sender_slot_claim(campaign_id=1, slot=0) is False
        assert sender_slots.sender_slot_claim(campaign_id=1, slot=1) is True
        sender_slots.sender_slot_release(campaign_id=1, slot=0)
        assert sender_slots.sender_slot_claim(campaign_id=1, slot=0) is True
    finally:
        keys = list(client.scan_iter(match=f"{settings.CAMPAIGN_CACHE_PREFIX}:*"))
        if keys:
            client.delete(*keys)


def test_batch_stops_before_its_claim_could_expire(make_user, make_campaign, staff, settings):
    """A batch never outlives half the claim timeout: rows not reached go back to pending
    (without counting an attempt) instead of being reclaimed while still being sent."""
    settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS = 0
    campaign, _ = _started(make_user, make_campaign, staff, n=3)
    result = sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert result.claimed == 4 and result.sent == 0
    rows = Delivery.objects.filter(campaign=campaign)
    assert set(rows.values_list("status", "attempts")) == {(Delivery.Status.PENDING, 0)}
    assert mail.outbox == []


def test_reclaim_race_leaves_fresh_claims_alone(
    make_user, make_campaign, staff, clock, settings, monkeypatch
):
    """Two workers reclaim the same stale rows; the first puts them back and claims them
    again before the second one's UPDATE runs. The fresh claim must survive."""
    settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS = 60
    campaign, _ = _started(make_user, make_campaign, staff, n=2)
    dead = sending.deliveries_claim(campaign_id=campaign.pk, limit=10, now=clock())
    clock.advance(seconds=61)
    assert sending.deliveries_reclaim_stale(campaign_id=campaign.pk, now=clock()) == 3
    # Make the rows stale again, then let another worker reclaim + claim them while this
    # one is between reading the stale rows and updating them.
    clock.advance(seconds=61)
    sending.deliveries_claim(campaign_id=campaign.pk, limit=10, now=clock() - timedelta(seconds=61))
    fresh: list = []

    def interleaved(ids):
        Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.PENDING)
        fresh.extend(sending.deliveries_claim(campaign_id=campaign.pk, limit=10, now=clock()))
        return {}

    monkeypatch.setattr(send_journal, "journal_sent_among", interleaved)
    sending.deliveries_reclaim_stale(campaign_id=campaign.pk, now=clock())
    assert sorted(fresh) == sorted(dead)
    rows = Delivery.objects.filter(campaign=campaign)
    assert set(rows.values_list("status", flat=True)) == {Delivery.Status.SENDING}


def test_outcome_only_touches_rows_still_held_by_its_claim(
    make_user, make_campaign, staff, clock, settings
):
    """A slow worker's batch was reclaimed and claimed again by another worker; when the
    slow one finally records a transient error, the other worker's claim must survive
    (otherwise the rows would go back to the queue while being sent: a duplicate)."""
    settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS = 60
    campaign, _ = _started(make_user, make_campaign, staff, n=2)
    slow_claim = clock()
    slow = sending.deliveries_claim(campaign_id=campaign.pk, limit=10, now=slow_claim)
    clock.advance(seconds=61)
    assert sending.deliveries_reclaim_stale(campaign_id=campaign.pk, now=clock()) == 3
    fresh = sending.deliveries_claim(campaign_id=campaign.pk, limit=10, now=clock())
    assert sorted(fresh) == sorted(slow)
    ids = [pk for pk, _ in slow]
    sending._record_outcome(
        sent=ids[:1],
        permanent={"550 x": ids[1:2]},
        transient={"451 y": ids[2:]},
        unsent=[],
        skipped=[],
        claimed_at=slow_claim,
        now=clock(),
    )
    rows = Delivery.objects.filter(campaign=campaign)
    assert set(rows.values_list("status", "claimed_at")) == {(Delivery.Status.SENDING, clock())}
    # The owner of the claim records its own outcome.
    sending._record_outcome(
        sent=ids, permanent={}, transient={}, unsent=[], skipped=[], claimed_at=clock(), now=clock()
    )
    assert set(rows.values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_cancel_while_batch_in_flight_skips_its_requeued_rows(
    make_user, make_campaign, staff, clock
):
    campaign, _ = _started(make_user, make_campaign, staff, n=3)  # 4 recipients
    claimed = sending.deliveries_claim(campaign_id=campaign.pk, limit=10, now=clock())
    services.campaign_cancel(campaign=campaign, actor=staff)
    ids = [pk for pk, _ in claimed]
    sending._record_outcome(
        sent=ids[:1],
        permanent={},
        transient={"451 busy": ids[1:2]},
        unsent=ids[2:],
        skipped=[],
        claimed_at=clock(),
        now=clock(),
    )
    statuses = dict(Delivery.objects.filter(campaign=campaign).values_list("pk", "status"))
    assert statuses[ids[0]] == Delivery.Status.SENT
    assert {statuses[pk] for pk in ids[1:]} == {Delivery.Status.SKIPPED}
    assert not sending.campaign_has_due_work(campaign_id=campaign.pk, now=clock())


@pytest.mark.parametrize(
    "template",
    [
        "{% debug %}",
        '{% include "base.html" %}',
        '{% extends "base.html" %}',
        "{% load i18n %}",
        '{% url "account_login" %}',
        "{% csrf_token %}",
        "{{ email.__class__ }}",
        '{{ first_name|center:"wide" }}',  # compiles, fails only when rendered
    ],
)
def test_unsafe_or_failing_templates_refused(make_user, make_campaign, staff, template):
    campaign = make_campaign(kind=Campaign.Kind.CUSTOM, subject_fi="Hei", body_fi=template)
    with pytest.raises(ApplicationError) as err:
        services.campaign_templates_validate(campaign=campaign)
    assert err.value.code == "template_error"
    with pytest.raises(ApplicationError):
        start(campaign, staff)
    assert not Delivery.objects.exists()


def test_allowed_template_language_renders(make_user, make_campaign, staff):
    user = make_user(first_name="aino", language="fi")
    campaign = make_campaign(
        kind=Campaign.Kind.CUSTOM,
        audience_language="fi",
        subject_fi="{{ first_name|capfirst }}",
        body_fi="{% if organization_names %}{{ organization_names }}{% else %}-{% endif %}"
        "|{{ email|upper }}|{% firstof last_name 'x' %}",
    )
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    [message] = [m for m in mail.outbox if m.to == [user.email]]
    assert message.subject == "Aino"
    assert message.body == f"-|{user.email.upper()}|Meikäläinen"


def test_cancel_settles_a_dead_workers_rows(make_user, make_campaign, staff, clock, settings):
    settings.CAMPAIGN_CLAIM_TIMEOUT_SECONDS = 60
    campaign, _ = _started(make_user, make_campaign, staff, n=2)  # 3 recipients
    dead = sending.deliveries_claim(
        campaign_id=campaign.pk, limit=10, now=timezone.now() - timedelta(seconds=61)
    )
    send_journal.journal_record_sent(delivery_id=dead[0][0], when=clock())  # sent before dying
    services.campaign_cancel(campaign=campaign, actor=staff)
    statuses = dict(Delivery.objects.filter(campaign=campaign).values_list("pk", "status"))
    assert statuses == {
        dead[0][0]: Delivery.Status.SENT,
        dead[1][0]: Delivery.Status.SKIPPED,
        dead[2][0]: Delivery.Status.SKIPPED,
    }
