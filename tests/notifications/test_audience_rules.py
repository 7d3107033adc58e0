"""Campaigns that cannot misfire: staff are left out unless a filter names them, people who
already did what the campaign asks (since the date it names) are skipped and counted, and
addresses known not to work get no campaign email (DESIGN invariant 11)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from notifications import selectors, services
from notifications.models import Campaign, Delivery
from posti_accounts.models import AuditEvent
from posti_accounts.services import (
    user_details_confirm,
    user_email_verified,
    user_password_changed,
)

from .conftest import start

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_campaign(staff):
    """Campaigns as staff save them: no filter unless the test sets one."""

    def make(kind=Campaign.Kind.ANNOUNCEMENT, **fields):
        return services.campaign_create(actor=staff, name=f"Test {kind}", kind=kind, **fields)

    return make


def emails(campaign):
    return set(selectors.campaign_audience(campaign=campaign).values_list("email", flat=True))


def test_staff_left_out_of_an_unfiltered_campaign(make_user, make_campaign, staff):
    person = make_user()
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW)
    assert emails(campaign) == {person.email}
    start(campaign, staff)
    assert not Delivery.objects.filter(campaign=campaign, user=staff).exists()
    staff.refresh_from_db()
    assert not staff.requires_verify_email
    assert not staff.requires_update_password


def test_staff_included_only_when_the_filter_says_so(make_user, make_campaign, staff):
    person = make_user()
    campaign = make_campaign(audience_include_staff=True)
    assert emails(campaign) == {person.email, staff.email}


def test_staff_in_an_organization_filter_still_need_the_staff_filter(make_user, make_campaign):
    from tests.factories import MembershipFactory, OrganizationFactory

    org = OrganizationFactory()
    member = make_user()
    staff_member = make_user(is_staff=True)
    MembershipFactory(user=member, organization=org)
    MembershipFactory(user=staff_member, organization=org)
    assert emails(make_campaign(organizations=[org])) == {member.email}
    assert emails(make_campaign(organizations=[org], audience_include_staff=True)) == {
        member.email,
        staff_member.email,
    }


def _at(user, action, when):
    AuditEvent.objects.filter(target_user=user, action=action).update(created_at=when)


def test_verify_and_renew_skips_those_done_since_the_date(make_user, make_campaign, staff):
    since = timezone.now() - timedelta(days=2)
    done, only_verified, only_password, done_before, nothing = (make_user() for _ in range(5))
    for user in (done, only_verified, done_before):
        user_email_verified(user=user, email=user.email)
    for user in (done, only_password, done_before):
        user_password_changed(user=user)
    long_ago = since - timedelta(days=10)
    _at(done_before, "email.verified", long_ago)
    get_user_model().objects.filter(pk=done_before.pk).update(password_changed_at=long_ago)

    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW, skip_done_since=since)
    assert emails(campaign) == {
        only_verified.email,
        only_password.email,
        done_before.email,
        nothing.email,
    }
    assert selectors.campaign_skipped_count(campaign=campaign) == 1

    start(campaign, staff)
    assert not Delivery.objects.filter(campaign=campaign, user=done).exists()
    done.refresh_from_db()
    assert not done.requires_verify_email and not done.requires_update_password
    nothing.refresh_from_db()
    assert nothing.requires_verify_email and nothing.requires_update_password
    # Still counted after the start (they have no delivery of this campaign).
    assert selectors.campaign_skipped_count(campaign=campaign) == 1


def test_without_a_date_nobody_is_skipped(make_user, make_campaign):
    done = make_user()
    user_email_verified(user=done, email=done.email)
    user_password_changed(user=done)
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW)
    assert done.email in emails(campaign)
    assert selectors.campaign_skipped_count(campaign=campaign) == 0


def test_check_details_skips_those_confirmed_after_the_date(make_user, make_campaign, staff):
    since = timezone.now() - timedelta(hours=1)
    confirmed, confirmed_before, never = make_user(), make_user(), make_user()
    user_details_confirm(user=confirmed)
    user_details_confirm(user=confirmed_before)
    get_user_model().objects.filter(pk=confirmed_before.pk).update(
        details_confirmed_at=since - timedelta(days=1)
    )
    campaign = make_campaign(kind=Campaign.Kind.CHECK_DETAILS, skip_done_since=since)
    assert emails(campaign) == {confirmed_before.email, never.email}
    assert selectors.campaign_skipped_count(campaign=campaign) == 1
    start(campaign, staff)
    confirmed.refresh_from_db()
    assert not confirmed.requires_check_details


def test_announcement_ignores_the_skip_date(make_user, make_campaign):
    confirmed = make_user()
    user_details_confirm(user=confirmed)
    campaign = make_campaign(skip_done_since=timezone.now() - timedelta(days=1))
    assert confirmed.email in emails(campaign)
    assert selectors.campaign_skipped_count(campaign=campaign) == 0


def test_undeliverable_addresses_are_suppressed_and_counted(make_user, make_campaign):
    ok, bounced = make_user(), make_user()
    get_user_model().objects.filter(pk=bounced.pk).update(
        email_undeliverable_at=timezone.now(), email_undeliverable_reason="bounced"
    )
    campaign = make_campaign()
    assert emails(campaign) == {ok.email}
    assert selectors.campaign_suppressed_count(campaign=campaign) == 1


def test_skip_counts_constant_queries(make_user, make_campaign, django_assert_num_queries):
    since = timezone.now() - timedelta(days=1)
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW, skip_done_since=since)
    for n in (2, 12):
        for _ in range(n):
            user = make_user()
            user_email_verified(user=user, email=user.email)
            user_password_changed(user=user)
        with django_assert_num_queries(2):  # the organizations filter + the count
            selectors.campaign_skipped_count(campaign=campaign)


def test_required_actions_never_lock_staff_out_of_the_admin(client, settings, make_user):
    """A staff member included in a Phase 3 campaign can still watch it in the admin; the
    portal's own pages still ask for the actions."""
    settings.ADMIN_REQUIRE_2FA = False
    runner = make_user(is_staff=True)
    get_user_model().objects.filter(pk=runner.pk).update(
        is_superuser=True, requires_verify_email=True, requires_update_password=True
    )
    client.force_login(runner)
    assert client.get("/admin/notifications/campaign/").status_code == 200
    response = client.get("/profile/")
    assert response.status_code == 302 and "/profile/actions/" in response["Location"]


def test_non_staff_still_sent_to_required_actions_from_admin_urls(client, make_user):
    person = make_user()
    get_user_model().objects.filter(pk=person.pk).update(requires_verify_email=True)
    client.force_login(person)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/profile/actions/" in response["Location"]
