import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from notifications import services
from notifications.models import Campaign, Delivery
from posti_accounts.models import AuditEvent
from posti_accounts.services import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(settings):
    settings.ADMIN_REQUIRE_2FA = False  # the 2FA gate is tested by posti_accounts
    user = user_create(email="admin@posti.example", first_name="Ada", email_verified=True)
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    user.refresh_from_db()
    return user


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _fi(message) -> str:
    """The message as the admin shows it (Finnish, the default language; HTML-escaped)."""
    with translation.override("fi"):
        return escape(str(message))


def _control(campaign):
    return reverse("admin:notifications_campaign_control", args=[campaign.pk])


def _action(campaign, action):
    return reverse("admin:notifications_campaign_action", args=[campaign.pk, action])


def test_add_form_prefills_defaults_of_kind(admin_client):
    response = admin_client.get(
        reverse("admin:notifications_campaign_add") + "?kind=verify_and_renew"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Vahvista sähköpostiosoitteesi ja vaihda salasanasi" in html
    assert "Bekräfta din e-postadress och byt lösenord" in html


def test_create_with_empty_templates_gets_defaults(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:notifications_campaign_add"),
        {
            "name": "Phase 1",
            "kind": "check_details",
            "throttle_per_minute": "600",
            "audience_language": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.subject_sv == "Kontrollera dina uppgifter i Postens e-tjänster"
    assert campaign.created_by == admin_user
    assert campaign.status == Campaign.Status.DRAFT


def test_admin_create_and_change_go_through_the_service(admin_client, admin_user, monkeypatch):
    """The admin writes through `campaign_save`, the service the other tests exercise."""
    from notifications import services as campaign_services

    calls = []
    real = campaign_services.campaign_save

    def spy(**kwargs):
        calls.append(kwargs["campaign"].pk)
        return real(**kwargs)

    monkeypatch.setattr(campaign_services, "campaign_save", spy)
    data = {"name": "Phase 1", "kind": "check_details", "throttle_per_minute": "600"}
    admin_client.post(
        reverse("admin:notifications_campaign_add"), {**data, "audience_language": ""}
    )
    campaign = Campaign.objects.get()
    admin_client.post(
        reverse("admin:notifications_campaign_change", args=[campaign.pk]),
        {
            **data,
            "name": "Phase 1b",
            "audience_language": "",
            "subject_fi": campaign.subject_fi,
            "subject_sv": campaign.subject_sv,
            "subject_en": campaign.subject_en,
            "body_fi": campaign.body_fi,
            "body_sv": campaign.body_sv,
            "body_en": campaign.body_en,
        },
    )
    assert calls == [None, campaign.pk]
    events = list(
        AuditEvent.objects.filter(action__in=["campaign.created", "campaign.changed"])
        .order_by("id")
        .values_list("action", "details__campaign_name", "details__kind")
    )
    assert events == [
        ("campaign.created", "Phase 1", "check_details"),
        ("campaign.changed", "Phase 1b", "check_details"),
    ]


def test_broken_template_refused(admin_client):
    response = admin_client.post(
        reverse("admin:notifications_campaign_add"),
        {
            "name": "x",
            "kind": "custom",
            "subject_fi": "Hei",
            "subject_sv": "Hej",
            "subject_en": "Hi",
            "body_fi": "{% if %}",
            "throttle_per_minute": "0",
        },
    )
    assert response.status_code == 200
    assert _fi(services.MSG_TEMPLATE_ERROR).split("%")[0] in response.content.decode()
    assert not Campaign.objects.exists()


def test_control_page_count_preview_and_actions(
    admin_client, admin_user, make_user, staff, django_capture_on_commit_callbacks
):
    make_user(language="sv", first_name="Sven")
    make_user(language="fi")
    campaign = Campaign.objects.create(
        name="Phase 3", kind="verify_and_renew", audience_language="sv"
    )
    from notifications.services import campaign_defaults_fill

    campaign_defaults_fill(campaign=campaign)
    campaign.save()
    response = admin_client.get(_control(campaign) + "?language=sv")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<strong class="recipient-count">1</strong>' in html
    assert "Hej Sven" in html  # preview for a sample recipient of the audience, in Swedish
    assert 'style="' not in html.split('id="content-main"')[1]

    # send a test to yourself
    admin_client.post(_action(campaign, "test"), {"language": "en"})
    [test_mail] = mail.outbox
    assert test_mail.to == [admin_user.email]
    assert test_mail.subject.startswith("[TEST] Confirm your email address")
    assert not Delivery.objects.exists()

    # start, pause, resume, cancel through the admin
    # "Start now" answers at once; a task materializes the deliveries after commit.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("notifications.services.campaign_kick", lambda **kw: 0)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert (
                admin_client.post(_action(campaign, "start"), {"confirmed": "1"}).status_code == 302
            )
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.SCHEDULED
        assert not Delivery.objects.exists()
        assert len(callbacks) == 1
        callbacks[0]()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert Delivery.objects.filter(campaign=campaign).count() == 1
    admin_client.post(_action(campaign, "pause"))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    admin_client.post(_action(campaign, "cancel"), {"confirmed": "1"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    html = admin_client.get(_control(campaign)).content.decode()
    assert '<td class="funnel-sent">0</td>' in html
    assert "<progress" in html


def test_control_page_lists_failed_and_retries(admin_client, make_user, staff):
    from notifications.services import campaign_create, campaign_start

    user = make_user()
    campaign = campaign_create(actor=staff, name="A", kind="announcement")
    campaign_start(campaign=campaign, actor=staff)
    Delivery.objects.filter(user=user).update(
        status=Delivery.Status.FAILED, last_error="SMTPDataError: (554, 'rejected')"
    )
    html = admin_client.get(_control(campaign)).content.decode()
    assert "554" in html and user.email in html
    failed = Delivery.objects.get(user=user)
    admin_client.post(_action(campaign, "retry"), {"delivery": [str(failed.pk)]})
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.PENDING and failed.attempts == 0


def test_control_page_needs_staff(client, make_user, make_campaign):
    campaign = make_campaign()
    client.force_login(make_user())
    response = client.get(_control(campaign))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_control_page_queries_bounded(
    admin_client, make_user, staff, django_assert_max_num_queries
):
    from notifications.services import campaign_create, campaign_start

    campaign = campaign_create(actor=staff, name="A", kind="announcement")
    users = []
    for size in (3, 30):
        users += [make_user() for _ in range(size)]
        Delivery.objects.filter(campaign=campaign).delete()
        Campaign.objects.filter(pk=campaign.pk).update(status="draft")
        campaign_start(campaign=campaign, actor=staff)
        Delivery.objects.filter(campaign=campaign).update(
            status=Delivery.Status.FAILED, last_error="550 no"
        )
        with django_assert_max_num_queries(19):
            response = admin_client.get(_control(campaign))
        failed = Delivery.objects.filter(campaign=campaign).count()
        assert failed == len(users)  # staff and the admin are left out (no staff filter)
        assert response.content.decode().count("550 no") == failed


def test_sending_campaign_is_read_only_in_admin(admin_client, staff):
    from notifications.services import campaign_create, campaign_start

    campaign = campaign_create(actor=staff, name="Locked", kind="announcement")
    campaign_start(campaign=campaign, actor=staff)
    url = reverse("admin:notifications_campaign_change", args=[campaign.pk])
    assert 'name="subject_fi"' not in admin_client.get(url).content.decode()
    response = admin_client.post(url, {"name": "Changed", "subject_fi": "Changed"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Locked" and campaign.subject_fi != "Changed"


def test_changelist_offers_one_add_link_per_kind(admin_client):
    html = admin_client.get(reverse("admin:notifications_campaign_changelist")).content.decode()
    for kind in Campaign.Kind.values:
        assert f"?kind={kind}" in html


def test_add_without_kind_leaves_texts_for_the_chosen_kind(admin_client):
    html = admin_client.get(reverse("admin:notifications_campaign_add")).content.decode()
    assert "Kirjautuminen Postin sähköisiin palveluihin uudistuu" not in html
    admin_client.post(
        reverse("admin:notifications_campaign_add"),
        {"name": "P3", "kind": "verify_and_renew", "throttle_per_minute": "0"},
    )
    assert Campaign.objects.get().subject_en == "Confirm your email address and set a new password"


def test_bad_admin_input_never_500(admin_client, make_campaign, staff):
    campaign = make_campaign()
    checks = [
        ("get", _control(campaign) + "?language=xx", {}, 200),
        ("post", _action(campaign, "schedule"), {"scheduled_at": "not a date"}, 302),
        ("post", _action(campaign, "retry"), {"delivery": ["x", "-1", "99999"]}, 302),
        ("post", _action(campaign, "test"), {"language": "zz"}, 302),
        ("post", _action(campaign, "resume"), {}, 302),  # not paused: a message
        ("post", _action(campaign, "bogus"), {}, 403),
        ("get", _action(campaign, "start"), {}, 405),
        ("get", reverse("admin:notifications_campaign_control", args=[999999]), {}, 404),
    ]
    for method, url, data, status in checks:
        assert getattr(admin_client, method)(url, data).status_code == status, url
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_template_broken_outside_the_form_shows_error_not_500(admin_client, make_campaign):
    """A stored text that fails only when rendered (e.g. saved before a rule tightened)."""
    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(body_fi='{{ first_name|center:"x" }}')
    response = admin_client.get(_control(campaign) + "?language=fi")
    assert response.status_code == 200
    assert 'class="errornote"' in response.content.decode()
    response = admin_client.post(_action(campaign, "start"), follow=True)
    assert _fi(services.MSG_TEMPLATE_ERROR).split("%")[0] in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and not Delivery.objects.exists()


def test_test_send_failure_is_a_message(admin_client, make_campaign, settings):
    from .conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    campaign = make_campaign()
    response = admin_client.post(_action(campaign, "test"), {"language": "fi"}, follow=True)
    assert response.status_code == 200
    assert _fi(services.MSG_TEST_SEND_FAILED) in response.content.decode()


def test_kind_and_audience_locked_once_started(admin_client, make_user, staff):
    from notifications.services import campaign_create, campaign_pause, campaign_start

    make_user()
    campaign = campaign_create(actor=staff, name="P1", kind="announcement")
    campaign_start(campaign=campaign, actor=staff)
    campaign_pause(campaign=campaign, actor=staff)
    url = reverse("admin:notifications_campaign_change", args=[campaign.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="body_fi"' in html  # texts can still be fixed while paused
    assert 'name="kind"' not in html and 'name="audience_language"' not in html
    admin_client.post(
        url,
        {
            "name": "P1",
            "kind": "verify_and_renew",
            "audience_language": "sv",
            "throttle_per_minute": "0",
            "subject_fi": "Uusi otsikko",
            "subject_sv": campaign.subject_sv,
            "subject_en": campaign.subject_en,
            "body_fi": campaign.body_fi,
            "body_sv": campaign.body_sv,
            "body_en": campaign.body_en,
        },
    )
    campaign.refresh_from_db()
    assert campaign.subject_fi == "Uusi otsikko"
    assert (campaign.kind, campaign.audience_language) == ("announcement", "")


def test_deliveries_cannot_be_deleted_in_admin(admin_client, make_user, staff):
    from notifications.services import campaign_create, campaign_start

    make_user()
    campaign_start(
        campaign=campaign_create(actor=staff, name="A", kind="announcement"), actor=staff
    )
    delivery = Delivery.objects.first()
    url = reverse("admin:notifications_delivery_delete", args=[delivery.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Delivery.objects.filter(pk=delivery.pk).exists()


def test_staff_without_campaign_permission_cannot_act(client, settings, make_user, staff):
    from django.contrib.auth.models import Permission

    from notifications.services import campaign_create

    settings.ADMIN_REQUIRE_2FA = False
    make_user()
    campaign = campaign_create(actor=staff, name="A", kind="announcement")
    viewer = user_create(email="viewer@posti.example", email_verified=True, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(viewer)
    assert client.get(_control(campaign)).status_code == 403
    for action in ("start", "cancel", "test", "retry"):
        assert client.post(_action(campaign, action), {"language": "fi"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert not Delivery.objects.exists() and mail.outbox == []


def test_start_request_twice_and_racing_dispatcher_start_once(
    admin_client, make_user, staff, django_capture_on_commit_callbacks
):
    """Two clicks on "Start now" and the dispatcher's tick: one start, one delivery each."""
    from notifications.services import campaigns_dispatch_run

    make_user(language="fi")
    campaign = Campaign.objects.create(name="x", kind=Campaign.Kind.CHECK_DETAILS)
    from notifications.services import campaign_defaults_fill

    campaign_defaults_fill(campaign=campaign)
    campaign.save()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("notifications.services.campaign_kick", lambda **kw: 0)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            admin_client.post(_action(campaign, "start"), {"confirmed": "1"})
            admin_client.post(_action(campaign, "start"), {"confirmed": "1"})
        campaigns_dispatch_run()
        for callback in callbacks:
            callback()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    from notifications.selectors import campaign_audience
    from posti_accounts.models import AuditEvent

    recipients = campaign_audience(campaign=campaign).count()
    assert recipients >= 1
    assert Delivery.objects.filter(campaign=campaign).count() == recipients

    assert AuditEvent.objects.filter(action="campaign.started").count() == 1
    assert AuditEvent.objects.filter(action="campaign.start_requested").count() == 2
