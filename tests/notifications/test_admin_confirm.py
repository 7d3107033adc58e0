"""Start now, Schedule and Cancel campaign ask for confirmation on a page that says who the
campaign goes to; only a POST from that page (with its CSRF token) acts."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications import services
from notifications.models import Campaign
from posti_accounts.services import user_create
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(settings):
    settings.ADMIN_REQUIRE_2FA = False
    user = user_create(email="admin@posti.example", first_name="Ada", email_verified=True)
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    user.refresh_from_db()
    return user


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _campaign(admin_user, **fields):
    fields.setdefault("name", "Vaihe 3")
    fields.setdefault("kind", Campaign.Kind.VERIFY_AND_RENEW)
    return services.campaign_create(actor=admin_user, **fields)


def _action(campaign, action):
    return reverse("admin:notifications_campaign_action", args=[campaign.pk, action])


def _confirm(campaign, action):
    return reverse("admin:notifications_campaign_confirm", args=[campaign.pk, action])


def _status(campaign):
    campaign.refresh_from_db()
    return campaign.status


def test_start_without_confirmation_only_leads_to_the_confirmation_page(
    admin_client, admin_user, make_user
):
    make_user()
    campaign = _campaign(admin_user)
    response = admin_client.post(_action(campaign, "start"))
    assert response.status_code == 302
    assert response["Location"] == _confirm(campaign, "start")
    assert _status(campaign) == Campaign.Status.DRAFT


def test_start_confirmation_page_shows_count_filters_and_sample(
    admin_client, admin_user, make_user
):
    people = [make_user(first_name=f"Henkilö{n}") for n in range(3)]
    campaign = _campaign(admin_user)
    response = admin_client.get(_confirm(campaign, "start"))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'class="recipient-count">\s*3\s*<', html)
    assert "<strong>kaikki aktiiviset käyttäjät</strong>" in html
    assert "Henkilökunnan tunnukset jätetään pois." in html
    for person in people:
        assert person.email in html
    assert admin_user.email not in html.split("confirm-sample")[1]  # staff left out
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'action="{_action(campaign, "start")}"' in html
    assert 'name="confirmed" value="1"' in html
    assert "Aloita kampanja ”Vaihe 3” nyt" in html
    assert _status(campaign) == Campaign.Status.DRAFT


def test_confirmation_page_says_the_filters_in_words(admin_client, admin_user, make_user):
    org = OrganizationFactory(name="Kuljetus Oy")
    main = make_user()
    MembershipFactory(user=main, organization=org, role="main_user")
    campaign = _campaign(
        admin_user,
        audience_main_users_only=True,
        audience_language="sv",
        organizations=[org],
        skip_done_since=timezone.now() - timedelta(days=1),
    )
    html = admin_client.get(_confirm(campaign, "start")).content.decode()
    assert "kaikki aktiiviset käyttäjät" not in html
    assert "organisaatioiden pääkäyttäjät" in html
    assert "Kuljetus Oy" in html
    assert "kieli: ruotsi" in html
    assert "Jo tehneet ohitetaan" in html
    assert re.search(r'class="skipped-count">\s*0\s*<', html)


def test_confirmed_start_starts(admin_client, admin_user, make_user):
    make_user()
    campaign = _campaign(admin_user)
    response = admin_client.post(_action(campaign, "start"), {"confirmed": "1"})
    assert response.status_code == 302
    assert _status(campaign) in (Campaign.Status.SCHEDULED, Campaign.Status.SENDING)


def test_start_needs_the_csrf_token(admin_user, make_user):
    make_user()
    campaign = _campaign(admin_user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(_action(campaign, "start"), {"confirmed": "1"})
    assert response.status_code == 403
    assert _status(campaign) == Campaign.Status.DRAFT


def test_schedule_confirmation_then_schedule(admin_client, admin_user, make_user):
    make_user()
    campaign = _campaign(admin_user)
    at = (timezone.localtime() + timedelta(days=2)).replace(second=0, microsecond=0)
    value = at.strftime("%Y-%m-%dT%H:%M")
    # Without confirmation: the confirmation page, nothing scheduled.
    response = admin_client.post(_action(campaign, "schedule"), {"scheduled_at": value})
    assert response.status_code == 302
    assert response["Location"].startswith(_confirm(campaign, "schedule"))
    assert _status(campaign) == Campaign.Status.DRAFT
    html = admin_client.get(_confirm(campaign, "schedule"), {"scheduled_at": value}).content
    html = html.decode()
    assert f'name="scheduled_at" value="{value}"' in html
    assert "Ajasta kampanja ”Vaihe 3”" in html
    response = admin_client.post(
        _action(campaign, "schedule"), {"scheduled_at": value, "confirmed": "1"}
    )
    assert _status(campaign) == Campaign.Status.SCHEDULED
    assert campaign.scheduled_at == at


def test_schedule_confirmation_with_a_bad_time_goes_back(admin_client, admin_user):
    campaign = _campaign(admin_user)
    response = admin_client.get(_confirm(campaign, "schedule"), {"scheduled_at": "huomenna"})
    assert response.status_code == 302
    assert _status(campaign) == Campaign.Status.DRAFT


def test_cancel_confirms_first(admin_client, admin_user, make_user):
    campaign = _campaign(admin_user)
    response = admin_client.post(_action(campaign, "cancel"))
    assert response["Location"] == _confirm(campaign, "cancel")
    assert _status(campaign) == Campaign.Status.DRAFT
    html = admin_client.get(_confirm(campaign, "cancel")).content.decode()
    assert "Peru kampanja ”Vaihe 3”" in html
    admin_client.post(_action(campaign, "cancel"), {"confirmed": "1"})
    assert _status(campaign) == Campaign.Status.CANCELLED


def test_control_page_buttons_lead_to_confirmation(admin_client, admin_user):
    campaign = _campaign(admin_user)
    html = admin_client.get(
        reverse("admin:notifications_campaign_control", args=[campaign.pk])
    ).content.decode()
    assert f'action="{_confirm(campaign, "start")}"' in html
    assert f'action="{_confirm(campaign, "schedule")}"' in html
    assert f'action="{_confirm(campaign, "cancel")}"' in html


def test_unknown_confirmation_is_404(admin_client, admin_user):
    campaign = _campaign(admin_user)
    assert admin_client.get(_confirm(campaign, "retry")).status_code == 404


def test_control_page_of_a_draft_shows_the_skipped_count(admin_client, admin_user, make_user):
    from posti_accounts.services import user_email_verified, user_password_changed

    done = make_user()
    make_user()
    user_email_verified(user=done, email=done.email)
    user_password_changed(user=done)
    campaign = _campaign(admin_user, skip_done_since=timezone.now() - timedelta(days=1))
    html = admin_client.get(
        reverse("admin:notifications_campaign_control", args=[campaign.pk])
    ).content.decode()
    assert re.search(r'class="recipient-count">\s*1\s*<', html)
    assert re.search(r'class="skipped-count">\s*1\s*<', html)
