"""SMTP down, or answering 4xx for a while: deliveries wait and are retried with a growing
backoff, and once the server takes mail again each recipient gets exactly one message."""

from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from notifications import sending, services
from notifications.models import Campaign, Delivery
from posti_accounts.emails import email_send_rendered, outbound_email_send
from posti_accounts.models import OutboundEmail

from .conftest import free_port

pytestmark = [pytest.mark.faults, pytest.mark.django_db]
RECIPIENTS = 4  # + the staff member, who is in the audience too


def _campaign(make_user, make_campaign, staff):
    for _ in range(RECIPIENTS):
        make_user()
    campaign = make_campaign()
    services.campaign_start(campaign=campaign, actor=staff)
    return campaign


def _rows(campaign):
    return Delivery.objects.filter(campaign=campaign)


def _exactly_once(handler, campaign):
    by_rcpt = Counter(r for m in handler.messages for r in m["to"])
    expected = set(_rows(campaign).values_list("user__email", flat=True))
    assert set(by_rcpt) == expected and max(by_rcpt.values()) == 1
    ids = Counter(m["message_id"] for m in handler.messages)
    assert max(ids.values()) == 1 and len(ids) == len(expected)


def test_smtp_answering_451_for_a_while(
    make_user, make_campaign, staff, smtp_settings, clock, settings
):
    settings.CAMPAIGN_RETRY_BACKOFF_SECONDS = 60
    state = {"down": True}
    smtp_settings.on_data = lambda index: "451 4.3.2 Not accepting mail" if state["down"] else None
    campaign = _campaign(make_user, make_campaign, staff)

    # First attempt: every message refused for now, all back in the queue after 60 s.
    assert sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)[1] == "idle"
    assert smtp_settings.messages == []
    assert set(_rows(campaign).values_list("status", "attempts")) == {("pending", 1)}
    assert set(_rows(campaign).values_list("next_attempt_at", flat=True)) == {
        clock() + timedelta(seconds=60)
    }
    # Second attempt, still refused: the backoff doubles.
    clock.advance(seconds=60)
    sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)
    assert set(_rows(campaign).values_list("status", "attempts")) == {("pending", 2)}
    assert set(_rows(campaign).values_list("next_attempt_at", flat=True)) == {
        clock() + timedelta(seconds=120)
    }
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING  # waiting, not done, nothing failed
    # The server takes mail again; nothing is due before the backoff has passed.
    state["down"] = False
    clock.advance(seconds=60)
    assert sending.deliveries_send_batch(campaign_id=campaign.pk, clock=clock).claimed == 0
    clock.advance(seconds=60)
    assert sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)[0] == RECIPIENTS + 1
    assert set(_rows(campaign).values_list("status", flat=True)) == {"sent"}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    _exactly_once(smtp_settings, campaign)


def test_smtp_server_down_then_back(make_user, make_campaign, staff, settings, clock):
    from tests.notifications.conftest import RecordingHandler

    port = free_port()  # nothing listens here yet: connection refused
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_USE_TLS = False
    settings.CAMPAIGN_RETRY_BACKOFF_SECONDS = 30
    campaign = _campaign(make_user, make_campaign, staff)
    for _ in range(2):  # two attempts while the server is down
        sent, reason = sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)
        assert (sent, reason) == (0, "smtp_unavailable")
        assert set(_rows(campaign).values_list("status", flat=True)) == {"pending"}
        clock.advance(hours=1)
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)[1] == "idle"
        assert sending.campaign_send_loop(campaign_id=campaign.pk, clock=clock)[0] == 0
    finally:
        controller.stop()
    assert set(_rows(campaign).values_list("status", flat=True)) == {"sent"}
    _exactly_once(handler, campaign)


def test_single_email_waits_for_smtp_and_is_sent_once(smtp_settings):
    state = {"down": True}
    smtp_settings.on_data = lambda index: "451 4.7.1 Try later" if state["down"] else None
    email = email_send_rendered(to="someone@example.fi", subject="Hei", text="Tervetuloa")
    with pytest.raises(OSError):  # the task's autoretry (with backoff) takes it from here
        outbound_email_send(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.PENDING and "451" in email.last_error
    assert email.text == "Tervetuloa"  # kept until it is sent
    state["down"] = False
    assert outbound_email_send(email_id=email.pk) == "sent"
    assert outbound_email_send(email_id=email.pk) == "skipped"  # a redelivered task
    assert [m["to"] for m in smtp_settings.messages] == [["someone@example.fi"]]
