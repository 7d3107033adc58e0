import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from kernel.errors import ApplicationError
from notifications import services
from notifications.models import Campaign, Delivery
from tests.factories import MembershipFactory, OrganizationFactory

from .conftest import start

pytestmark = pytest.mark.django_db


def test_start_materializes_one_delivery_per_recipient(make_user, make_campaign, staff):
    users = [make_user() for _ in range(5)]
    campaign = make_campaign()
    start(campaign, staff)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.started_at is not None
    rows = Delivery.objects.filter(campaign=campaign)
    assert set(rows.values_list("user_id", flat=True)) == {u.pk for u in users} | {staff.pk}
    assert set(rows.values_list("status", flat=True)) == {Delivery.Status.PENDING}


def test_materialization_is_idempotent(make_user, make_campaign, staff):
    for _ in range(4):
        make_user()
    campaign = make_campaign()
    start(campaign, staff)
    first = Delivery.objects.filter(campaign=campaign).count()
    # Started again (a second admin click, a redelivered dispatcher task): refused ...
    with pytest.raises(ApplicationError) as err:
        start(campaign, staff)
    assert err.value.message == services.MSG_NOT_STARTABLE
    # ... and materializing again inserts nobody twice, only newcomers.
    assert services.campaign_materialize(campaign=campaign) == 0
    make_user()
    assert services.campaign_materialize(campaign=campaign) == 1
    assert Delivery.objects.filter(campaign=campaign).count() == first + 1
    dupes = (
        Delivery.objects.filter(campaign=campaign)
        .values("user_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not dupes.exists()


def test_materialization_is_one_statement(make_user, make_campaign, django_assert_max_num_queries):
    org = OrganizationFactory()
    for size in (3, 40):
        for _ in range(size):
            MembershipFactory(user=make_user(), organization=org)
        campaign = make_campaign(
            kind=Campaign.Kind.VERIFY_AND_RENEW, organizations=[org], name=f"c{size}"
        )
        # one INSERT ... SELECT (+ org ids for the audience) and one UPDATE of users
        with django_assert_max_num_queries(3):
            inserted = services.campaign_materialize(campaign=campaign)
        assert inserted == (3 if size == 3 else 43)


def test_verify_and_renew_sets_required_actions(make_user, make_campaign, staff):
    target = make_user(language="sv")
    other = make_user(language="fi")
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW, audience_language="sv")
    start(campaign, staff)
    target.refresh_from_db()
    other.refresh_from_db()
    assert target.requires_verify_email and target.requires_update_password
    assert not target.requires_check_details
    assert other.required_actions == []


def test_check_details_sets_required_action(make_user, make_campaign, staff):
    target = make_user()
    campaign = make_campaign(kind=Campaign.Kind.CHECK_DETAILS)
    start(campaign, staff)
    target.refresh_from_db()
    assert target.required_actions == ["check_details"]


def test_announcement_sets_no_required_actions(make_user, make_campaign, staff):
    target = make_user()
    start(make_campaign(kind=Campaign.Kind.ANNOUNCEMENT), staff)
    assert get_user_model().objects.get(pk=target.pk).required_actions == []


def test_merge_notice_needs_cutover_date(make_campaign, staff):
    campaign = make_campaign(kind=Campaign.Kind.MERGE_NOTICE, cutover_date=None)
    with pytest.raises(ApplicationError) as err:
        start(campaign, staff)
    assert err.value.message == services.MSG_CUTOVER_REQUIRED
    assert Delivery.objects.count() == 0
