"""Starting a campaign sets required actions in batches, each its own transaction and each
recorded, so logins never wait for the whole start, a crash resumes where it stopped and no
recipient is counted twice."""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count, Sum

from notifications import services
from notifications.models import Campaign, CampaignStartBatch, Delivery
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


class Crash(Exception):
    pass


def _crash_after(monkeypatch, batches: int):
    """The worker dies after `batches` batches have committed."""
    real = services.campaign_start_batch
    calls = {"n": 0}

    def batch(**kwargs):
        if calls["n"] >= batches:
            raise Crash("worker killed")
        calls["n"] += 1
        return real(**kwargs)

    monkeypatch.setattr(services, "campaign_start_batch", batch)


def _assert_counted_once(campaign, recipients):
    assert Delivery.objects.filter(campaign=campaign).count() == len(recipients)
    dupes = Delivery.objects.filter(campaign=campaign).values("user_id")
    assert not dupes.annotate(n=Count("pk")).filter(n__gt=1).exists()
    totals = CampaignStartBatch.objects.filter(campaign=campaign).aggregate(
        deliveries=Sum("deliveries"), actions=Sum("required_actions")
    )
    assert totals == {"deliveries": len(recipients), "actions": len(recipients)}
    numbers = list(
        CampaignStartBatch.objects.filter(campaign=campaign)
        .order_by("number")
        .values_list("number", flat=True)
    )
    assert numbers == list(range(1, len(numbers) + 1))
    users = get_user_model().objects.filter(pk__in=[u.pk for u in recipients])
    assert all(u.requires_verify_email and u.requires_update_password for u in users)


def test_start_sets_required_actions_in_recorded_batches(make_user, make_campaign, staff):
    recipients = [make_user() for _ in range(11)] + [staff]
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW)
    services.campaign_start(campaign=campaign, actor=staff, batch_size=5)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.materialized_at is not None
    # 12 recipients in batches of 5: 5 + 5 + 2.
    sizes = list(
        CampaignStartBatch.objects.filter(campaign=campaign)
        .order_by("number")
        .values_list("deliveries", flat=True)
    )
    assert sizes == [5, 5, 2]
    _assert_counted_once(campaign, recipients)


def test_batch_size_comes_from_settings(make_user, make_campaign, staff, settings):
    settings.CAMPAIGN_START_BATCH_SIZE = 3
    for _ in range(5):
        make_user()
    campaign = make_campaign(kind=Campaign.Kind.CHECK_DETAILS)
    services.campaign_start(campaign=campaign, actor=staff)
    assert CampaignStartBatch.objects.filter(campaign=campaign).count() == 2  # 6 = 3 + 3


@pytest.mark.faults  # a start killed between batches
@pytest.mark.parametrize("crash_after", [0, 1, 2])
def test_crash_between_batches_resumes_and_counts_once(
    make_user, make_campaign, staff, monkeypatch, crash_after
):
    recipients = [make_user() for _ in range(9)] + [staff]
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW)
    with monkeypatch.context() as mp:
        _crash_after(mp, crash_after)
        with pytest.raises(Crash):
            services.campaign_start(campaign=campaign, actor=staff, batch_size=4)
    campaign.refresh_from_db()
    # Started, not yet fully materialized; the batches done so far are kept.
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.materialized_at is None
    assert CampaignStartBatch.objects.filter(campaign=campaign).count() == crash_after
    assert Delivery.objects.filter(campaign=campaign).count() == 4 * crash_after
    # Sending may already begin for those recipients, but the campaign is not done: the
    # rest of the audience has no delivery yet.
    from django.utils import timezone

    from notifications.sending import campaign_finish_if_complete

    Delivery.objects.filter(campaign=campaign).update(status=Delivery.Status.SENT)
    assert campaign_finish_if_complete(campaign_id=campaign.pk, now=timezone.now()) is False

    # The dispatcher's next tick resumes the start where it stopped.
    services.campaigns_dispatch_run()
    campaign.refresh_from_db()
    assert campaign.materialized_at is not None
    _assert_counted_once(campaign, recipients)
    # A further resume (a redelivered task) changes nothing.
    assert services.campaign_materialize_resume(campaign_id=campaign.pk, batch_size=4) == 0
    _assert_counted_once(campaign, recipients)


def test_user_who_finished_before_their_batch_is_counted_once(make_user, make_campaign, staff):
    """Only rows whose actions were still unset are counted (and updated)."""
    done = make_user()
    get_user_model().objects.filter(pk=done.pk).update(
        requires_verify_email=True, requires_update_password=True
    )
    others = [make_user() for _ in range(3)]
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW)
    services.campaign_start(campaign=campaign, actor=staff, batch_size=2)
    totals = CampaignStartBatch.objects.filter(campaign=campaign).aggregate(
        deliveries=Sum("deliveries"), actions=Sum("required_actions")
    )
    assert totals == {"deliveries": len(others) + 2, "actions": len(others) + 1}


def test_cancel_during_start_stops_materializing(make_user, make_campaign, staff, monkeypatch):
    for _ in range(6):
        make_user()
    campaign = make_campaign()
    with monkeypatch.context() as mp:
        _crash_after(mp, 1)
        with pytest.raises(Crash):
            services.campaign_start(campaign=campaign, actor=staff, batch_size=3)
    services.campaign_cancel(campaign=campaign, actor=staff)
    services.campaigns_dispatch_run()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert Delivery.objects.filter(campaign=campaign).count() == 3
    assert not Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).exists()


def test_batch_query_count_is_constant(make_campaign, make_user, staff, django_assert_num_queries):
    org = OrganizationFactory()
    counts = []
    for size in (3, 30):
        for _ in range(size):
            MembershipFactory(user=make_user(), organization=org)
        campaign = make_campaign(
            kind=Campaign.Kind.VERIFY_AND_RENEW, organizations=[org], name=f"c{size}"
        )
        campaign = services.campaign_start_open(campaign=campaign, actor=staff)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            result = services.campaign_start_batch(campaign_id=campaign.pk, batch_size=size)
        assert result.deliveries == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 10
