"""Retries against a real SMTP server (aiosmtpd on loopback) with scripted replies."""

from datetime import timedelta

import pytest

from kernel.errors import ApplicationError
from notifications import sending, services
from notifications.models import Campaign, Delivery
from posti_accounts.services import user_details_confirm

from .conftest import start

pytestmark = pytest.mark.django_db


def _campaign(make_user, make_campaign, staff, n=1):
    user_details_confirm(user=staff)  # staff are not in this audience
    users = [make_user() for _ in range(n)]
    campaign = make_campaign(audience_main_users_only=False, audience_details_not_confirmed=True)
    start(campaign, staff)
    return campaign, users


def test_transient_451_retried_with_backoff_then_sent(
    make_user, make_campaign, staff, smtp_settings, clock, settings
):
    settings.CAMPAIGN_RETRY_BACKOFF_SECONDS = 60
    smtp_settings.data_replies = ["451 4.3.0 Try again later"]
    campaign, users = _campaign(make_user, make_campaign, staff, n=1)
    delivery = Delivery.objects.get(campaign=campaign, user=users[0])

    result = sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock)
    assert (result.sent, result.retried) == (0, 1)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 1
    assert "451" in delivery.last_error
    assert delivery.next_attempt_at == clock() + timedelta(seconds=60)

    # Not due yet: not claimed.
    clock.advance(seconds=59)
    assert sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock).claimed == 0
    clock.advance(seconds=1)
    result = sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock)
    assert result.sent == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")
    assert [m["to"] for m in smtp_settings.messages] == [[users[0].email]]
    assert smtp_settings.messages[0]["message_id"] == delivery.message_id


def test_transient_errors_give_up_after_limit(
    make_user, make_campaign, staff, smtp_settings, clock, settings
):
    settings.CAMPAIGN_MAX_ATTEMPTS = 3
    smtp_settings.data_replies = ["451 busy"] * 3
    campaign, users = _campaign(make_user, make_campaign, staff)
    delivery = Delivery.objects.get(campaign=campaign, user=users[0])
    for _ in range(3):
        sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock)
        clock.advance(hours=1)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 3
    assert smtp_settings.messages == []


def test_permanent_550_recorded_failed_and_retryable_by_staff(
    make_user, make_campaign, staff, smtp_settings, clock
):
    campaign, users = _campaign(make_user, make_campaign, staff, n=2)
    bad = users[0]
    smtp_settings.rcpt_replies = {bad.email: "550 5.1.1 No such user"}
    result = sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock)
    assert (result.sent, result.failed) == (1, 1)
    failed = Delivery.objects.get(campaign=campaign, user=bad)
    assert failed.status == Delivery.Status.FAILED
    assert "550" in failed.last_error and "No such user" in failed.last_error
    assert sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)[1] == "idle"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE

    # Staff fix the mailbox and retry the failed row: only it is sent again.
    smtp_settings.rcpt_replies = {}
    assert services.campaign_deliveries_retry(campaign=campaign, actor=staff) == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)
    assert sorted(m["to"][0] for m in smtp_settings.messages) == sorted(u.email for u in users)


def test_permanent_data_error(make_user, make_campaign, staff, smtp_settings, clock):
    smtp_settings.data_replies = ["554 5.6.0 Message rejected"]
    campaign, users = _campaign(make_user, make_campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock)
    delivery = Delivery.objects.get(campaign=campaign, user=users[0])
    assert delivery.status == Delivery.Status.FAILED and "554" in delivery.last_error


def test_server_unreachable_is_transient(make_user, make_campaign, staff, settings, clock):
    from .conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    campaign, _ = _campaign(make_user, make_campaign, staff, n=2)
    result = sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock)
    assert result.retried == 2 and result.sent == 0
    rows = Delivery.objects.filter(campaign=campaign)
    assert set(rows.values_list("status", flat=True)) == {Delivery.Status.PENDING}
    assert all(r.next_attempt_at > clock() for r in rows)
    assert result.connection_failed


def test_send_loop_stops_while_smtp_is_down(make_user, make_campaign, staff, settings, clock):
    """An outage costs one batch an attempt; the rest wait untouched for the dispatcher."""
    from .conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.CAMPAIGN_BATCH_SIZE = 2
    campaign, _ = _campaign(make_user, make_campaign, staff, n=6)
    assert sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock) == (
        0,
        "smtp_unavailable",
    )
    rows = Delivery.objects.filter(campaign=campaign)
    assert rows.filter(attempts=1).count() == 2
    assert rows.filter(attempts=0, status=Delivery.Status.PENDING).count() == 4


def test_one_smtp_connection_per_batch(make_user, make_campaign, staff, smtp_settings, clock):
    from aiosmtpd.smtp import SMTP

    sessions = []
    original = SMTP.connection_made

    def counting(self, transport):
        sessions.append(1)
        return original(self, transport)

    SMTP.connection_made = counting
    try:
        campaign, _ = _campaign(make_user, make_campaign, staff, n=9)
        sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock)
    finally:
        SMTP.connection_made = original
    assert len(smtp_settings.messages) == 9
    assert len(sessions) == 1


def test_backoff_doubles_and_is_capped(settings):
    settings.CAMPAIGN_RETRY_BACKOFF_SECONDS = 60
    assert [sending._backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert sending._backoff(500) == timedelta(days=1)


def test_cancelled_campaign_failures_not_retried(make_user, make_campaign, staff):
    campaign, users = _campaign(make_user, make_campaign, staff)
    Delivery.objects.filter(campaign=campaign).update(status=Delivery.Status.FAILED)
    services.campaign_cancel(campaign=campaign, actor=staff)
    with pytest.raises(ApplicationError) as err:
        services.campaign_deliveries_retry(campaign=campaign, actor=staff)
    assert err.value.message == services.MSG_CANCELLED_NO_RETRY
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.FAILED}
