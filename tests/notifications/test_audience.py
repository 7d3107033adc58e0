from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from notifications.selectors import (
    audience_filters_available,
    campaign_audience,
    campaign_recipient_count,
)
from organizations.models import Membership
from posti_accounts.services import user_details_confirm, user_password_changed
from tests.factories import EServiceFactory, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def emails(campaign):
    return set(campaign_audience(campaign=campaign).values_list("email", flat=True))


def test_all_active_users(make_user, make_campaign, staff):
    a, b = make_user(), make_user()
    inactive = make_user()
    get_user_model().objects.filter(pk=inactive.pk).update(is_active=False)
    campaign = make_campaign()
    assert emails(campaign) == {a.email, b.email, staff.email}
    assert campaign_recipient_count(campaign=campaign) == 3


def test_main_users_only(make_user, make_campaign):
    main, member, removed_main = make_user(), make_user(), make_user()
    org = OrganizationFactory()
    MembershipFactory(user=main, organization=org, role=Membership.Role.MAIN_USER)
    MembershipFactory(user=member, organization=org)
    MembershipFactory(
        user=removed_main,
        organization=org,
        role=Membership.Role.MAIN_USER,
        status=Membership.Status.REMOVED,
    )
    assert emails(make_campaign(audience_main_users_only=True)) == {main.email}


def test_members_of_organizations(make_user, make_campaign):
    a, b, c, pending = make_user(), make_user(), make_user(), make_user()
    org1, org2, org3 = OrganizationFactory(), OrganizationFactory(), OrganizationFactory()
    MembershipFactory(user=a, organization=org1)
    MembershipFactory(user=a, organization=org2)  # in both: still one recipient
    MembershipFactory(user=b, organization=org2)
    MembershipFactory(user=c, organization=org3)
    MembershipFactory(user=pending, organization=org1, status=Membership.Status.PENDING)
    campaign = make_campaign(organizations=[org1, org2])
    assert emails(campaign) == {a.email, b.email}
    assert campaign_recipient_count(campaign=campaign) == 2


def test_users_of_eservice(make_user, make_campaign):
    a, b, removed = make_user(), make_user(), make_user()
    service, other = EServiceFactory(code="parcels"), EServiceFactory(code="invoices")
    m = MembershipFactory(user=a)
    m.services.add(service)
    MembershipFactory(user=b).services.add(other)
    MembershipFactory(user=removed, status=Membership.Status.REMOVED).services.add(service)
    assert emails(make_campaign(audience_eservice=service)) == {a.email}


def test_unverified_email(make_user, make_campaign):
    make_user(verified=True)
    unverified = make_user(verified=False)
    assert emails(make_campaign(audience_unverified_email=True)) == {unverified.email}


def test_password_not_changed_since(make_user, make_campaign):
    never = make_user()
    changed = make_user()
    user_password_changed(user=changed)
    old = make_user()
    get_user_model().objects.filter(pk=old.pk).update(
        password_changed_at=timezone.now() - timedelta(days=400)
    )
    since = timezone.now() - timedelta(days=30)
    campaign = make_campaign(audience_password_not_changed_since=since)
    assert never.email in emails(campaign)
    assert old.email in emails(campaign)
    assert changed.email not in emails(campaign)


def test_details_not_confirmed(make_user, make_campaign, staff):
    confirmed, unconfirmed = make_user(), make_user()
    user_details_confirm(user=confirmed)
    user_details_confirm(user=staff)
    assert emails(make_campaign(audience_details_not_confirmed=True)) == {unconfirmed.email}


def test_preferred_language(make_user, make_campaign):
    make_user(language="fi")
    sv = make_user(language="sv")
    assert emails(make_campaign(audience_language="sv")) == {sv.email}


def test_last_login_before(make_user, make_campaign, staff):
    recent, long_ago, never = make_user(), make_user(), make_user()
    users = get_user_model().objects
    users.filter(pk=recent.pk).update(last_login=timezone.now())
    users.filter(pk=long_ago.pk).update(last_login=timezone.now() - timedelta(days=365))
    users.filter(pk=staff.pk).update(last_login=timezone.now())
    campaign = make_campaign(audience_last_login_before=timezone.now() - timedelta(days=90))
    assert emails(campaign) == {long_ago.email, never.email}


def test_legacy_service_filter(make_user, make_campaign):
    merged, other_service, unmerged_email = make_user(), make_user(), make_user()
    service, other = EServiceFactory(code="legacy-parcels"), EServiceFactory(code="legacy-x")
    campaign = make_campaign(audience_legacy_service=service)
    if not audience_filters_available()["legacy_service"]:
        # Without the migration app's model nobody matches, rather than everybody.
        assert campaign_recipient_count(campaign=campaign) == 0
        return
    from django.apps import apps

    legacy = apps.get_model("migration", "LegacyAccount")
    for n, (user, svc) in enumerate([(merged, service), (other_service, other), (None, service)]):
        legacy.objects.create(
            service=svc,
            username=f"old{n}",
            email=user.email if user else unmerged_email.email,
            user=user,
            row_digest=f"{n:064d}",
        )
    assert emails(campaign) == {merged.email}


def test_filters_combine(make_user, make_campaign):
    org = OrganizationFactory()
    service = EServiceFactory(code="combo")
    target = make_user(language="sv", verified=False)
    wrong_lang = make_user(language="fi", verified=False)
    verified = make_user(language="sv", verified=True)
    not_main = make_user(language="sv", verified=False)
    no_service = make_user(language="sv", verified=False)
    for u in (target, wrong_lang, verified):
        MembershipFactory(user=u, organization=org, role=Membership.Role.MAIN_USER).services.add(
            service
        )
    MembershipFactory(user=not_main, organization=org).services.add(service)
    MembershipFactory(user=no_service, organization=org, role=Membership.Role.MAIN_USER)
    campaign = make_campaign(
        organizations=[org],
        audience_main_users_only=True,
        audience_eservice=service,
        audience_unverified_email=True,
        audience_language="sv",
        audience_details_not_confirmed=True,
    )
    assert emails(campaign) == {target.email}
    assert campaign_recipient_count(campaign=campaign) == 1


def test_count_query_does_not_grow(make_user, make_campaign, django_assert_max_num_queries):
    org = OrganizationFactory()
    campaign = make_campaign(organizations=[org], audience_unverified_email=True)
    for size in (3, 30):
        for _ in range(size):
            MembershipFactory(user=make_user(verified=False), organization=org)
        with django_assert_max_num_queries(2):
            count = campaign_recipient_count(campaign=campaign)
        assert count == (3 if size == 3 else 33)
