"""Non-working addresses are found: the provider's tracking webhooks (documented payloads,
basic auth and signatures) and permanent 5xx replies at send time mark the address, set the
`check_details` required action, keep campaign email away from it, show in Omat tiedot and
to the organization's main users; verifying the address clears the mark."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from notifications import selectors, sending
from notifications.models import Campaign, Delivery
from posti_accounts.models import AuditEvent
from posti_accounts.services import user_email_verified

from .conftest import start

pytestmark = pytest.mark.django_db

SECRET = "hook:s3cret-webhook-pass"  # noqa: S105
SIGNING_KEY = "key-mailgun-signing-test"


def _basic(secret=SECRET):
    return "Basic " + base64.b64encode(secret.encode()).decode()


@pytest.fixture
def postmark(settings):
    settings.ANYMAIL_ESP = "postmark"
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "POSTMARK_SERVER_TOKEN": "test-token"}
    return reverse("notifications:email_tracking_webhook", args=["postmark"])


@pytest.fixture
def mailgun(settings):
    settings.ANYMAIL_ESP = "mailgun"
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_API_KEY": "key-api",
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    }
    return reverse("notifications:email_tracking_webhook", args=["mailgun"])


def _post(client, url, payload, auth=None):
    return client.post(
        url,
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth or _basic(),
    )


def postmark_bounce(email, message_id, kind="HardBounce"):
    """Postmark's documented bounce webhook body."""
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "Test",
        "MessageID": message_id,
        "Metadata": {"a_key": "a_value"},
        "ServerID": 23,
        "Description": (
            "The server was unable to deliver your message (ex: unknown user, mailbox not found)."
        ),
        "Details": "Test bounce details",
        "Email": email,
        "From": "sender@example.com",
        "BouncedAt": "2019-11-05T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Test subject",
        "Content": "<Full dump of bounce>",
    }


def postmark_complaint(email, message_id):
    return {
        "RecordType": "SpamComplaint",
        "MessageStream": "outbound",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "Tag": "Test",
        "MessageID": message_id,
        "Metadata": {},
        "ServerID": 1234,
        "Description": "",
        "Details": "Test spam complaint details",
        "Email": email,
        "From": "sender@example.com",
        "BouncedAt": "2019-11-05T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": False,
        "Subject": "Test subject",
        "Content": "<Abuse report dump>",
    }


def postmark_delivery(email, message_id):
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Recipient": email,
        "Tag": "welcome-email",
        "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
        "Details": "Test delivery webhook details",
        "Metadata": {},
    }


def mailgun_failed(email, message_id, *, key=SIGNING_KEY, severity="permanent"):
    """Mailgun's documented `failed` event, signed as Mailgun signs it (HMAC-SHA256 of
    timestamp + token with the webhook signing key)."""
    timestamp, token = "1529006854", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": signature.hexdigest(),
        },
        "event-data": {
            "event": "failed",
            "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "timestamp": 1521233195.375624,
            "log-level": "error",
            "severity": severity,
            "reason": "suppress-bounce",
            "envelope": {
                "sender": "bob@sandbox.mailgun.org",
                "transport": "smtp",
                "targets": email,
            },
            "message": {
                "headers": {
                    "to": f"Alice <{email}>",
                    "message-id": message_id,
                    "from": "Bob <bob@sandbox.mailgun.org>",
                    "subject": "Test permanent_fail webhook",
                },
                "attachments": [],
                "size": 111,
            },
            "recipient": email,
            "recipient-domain": email.split("@")[1],
            "delivery-status": {
                "attempt-no": 1,
                "message": "",
                "code": 605,
                "description": "Not delivering to previously bounced address",
                "session-seconds": 0.0,
            },
            "user-variables": {},
        },
    }


@pytest.fixture
def sent_campaign(make_user, make_campaign, staff):
    """A sent announcement to two people; the provider's ids stored at send time."""
    alice, bob = make_user("alice@example.fi"), make_user("bob@example.fi")
    campaign = make_campaign(audience_include_staff=False)
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    for n, user in enumerate((alice, bob)):
        Delivery.objects.filter(campaign=campaign, user=user).update(
            provider_message_id=f"883953f4-6105-42a2-a16a-77a8eac7948{n}"
        )
    return campaign, alice, bob


def _marked(user):
    user.refresh_from_db()
    return user.email_undeliverable_at is not None


def test_postmark_hard_bounce_marks_the_address(client, postmark, sent_campaign, make_campaign):
    campaign, alice, bob = sent_campaign
    message_id = "883953f4-6105-42a2-a16a-77a8eac79480"
    response = _post(client, postmark, postmark_bounce(alice.email, message_id))
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.email_undeliverable_at is not None
    assert "unable to deliver" in alice.email_undeliverable_reason
    assert alice.requires_check_details
    assert not _marked(bob)
    delivery = Delivery.objects.get(campaign=campaign, user=alice)
    assert delivery.outcome == Delivery.Outcome.BOUNCED
    event = AuditEvent.objects.get(action="email.undeliverable_marked")
    assert event.target_user == alice and event.details["source"] == "Postmark"
    # No more campaign email to the address.
    assert alice not in selectors.campaign_audience(campaign=make_campaign())
    # The same event again changes nothing.
    _post(client, postmark, postmark_bounce(alice.email, message_id))
    assert AuditEvent.objects.filter(action="email.undeliverable_marked").count() == 1


def test_postmark_soft_bounce_does_not_mark(client, postmark, sent_campaign):
    campaign, alice, _bob = sent_campaign
    payload = postmark_bounce(alice.email, "883953f4-6105-42a2-a16a-77a8eac79480", "SoftBounce")
    assert _post(client, postmark, payload).status_code == 200
    assert not _marked(alice)
    assert Delivery.objects.get(campaign=campaign, user=alice).outcome == ""


def test_postmark_complaint_and_delivery(client, postmark, sent_campaign):
    campaign, alice, bob = sent_campaign
    _post(client, postmark, postmark_delivery(bob.email, "883953f4-6105-42a2-a16a-77a8eac79481"))
    _post(client, postmark, postmark_delivery(alice.email, "883953f4-6105-42a2-a16a-77a8eac79480"))
    _post(client, postmark, postmark_complaint(alice.email, "883953f4-6105-42a2-a16a-77a8eac79480"))
    outcomes = dict(
        Delivery.objects.filter(campaign=campaign).values_list("user__email", "outcome")
    )
    assert outcomes == {alice.email: "complained", bob.email: "delivered"}
    assert _marked(alice) and not _marked(bob)
    # A late "delivered" does not hide the complaint.
    _post(client, postmark, postmark_delivery(alice.email, "883953f4-6105-42a2-a16a-77a8eac79480"))
    assert Delivery.objects.get(campaign=campaign, user=alice).outcome == "complained"
    progress = selectors.campaign_progress(campaign=campaign)
    assert (progress.delivered, progress.bounced, progress.complained) == (1, 0, 1)


@pytest.mark.parametrize("auth", [None, _basic("hook:wrong"), "Bearer x"])
def test_postmark_without_the_secret_is_refused(client, postmark, sent_campaign, auth):
    _campaign, alice, _bob = sent_campaign
    payload = postmark_bounce(alice.email, "883953f4-6105-42a2-a16a-77a8eac79480")
    kwargs = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = client.post(
        postmark, data=json.dumps(payload), content_type="application/json", **kwargs
    )
    assert response.status_code == 400
    assert not _marked(alice)


def test_unreadable_payload_is_400(client, postmark):
    response = client.post(
        postmark, data="{not json", content_type="application/json", HTTP_AUTHORIZATION=_basic()
    )
    assert response.status_code == 400


def test_mailgun_signed_permanent_failure_marks(client, mailgun, make_user, make_campaign, staff):
    alice = make_user("alice@example.fi")
    campaign = make_campaign()
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    delivery = Delivery.objects.get(campaign=campaign, user=alice)
    # Matched by the Message-ID we set at send time.
    response = _post(client, mailgun, mailgun_failed(alice.email, delivery.message_id))
    assert response.status_code == 200
    assert _marked(alice)
    delivery.refresh_from_db()
    assert delivery.outcome == Delivery.Outcome.BOUNCED


def test_mailgun_bad_signature_or_temporary_failure(client, mailgun, make_user):
    alice = make_user("alice@example.fi")
    forged = mailgun_failed(alice.email, "<x@y>", key="not-the-key")
    assert _post(client, mailgun, forged).status_code == 400
    temporary = mailgun_failed(alice.email, "<x@y>", severity="temporary")
    assert _post(client, mailgun, temporary).status_code == 200
    assert not _marked(alice)


def test_other_or_unconfigured_providers_are_404(client, settings, postmark):
    sendgrid = reverse("notifications:email_tracking_webhook", args=["sendgrid"])
    assert client.post(sendgrid, data="[]", content_type="application/json").status_code == 404
    unknown = reverse("notifications:email_tracking_webhook", args=["pigeon"])
    assert client.post(unknown, data="[]", content_type="application/json").status_code == 404
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    assert _post(client, postmark, {}).status_code == 404


def test_smtp_permanent_refusal_marks_and_4xx_does_not(
    smtp_settings, make_user, make_campaign, staff
):
    gone, busy, fine = (
        make_user("gone@example.fi"),
        make_user("busy@example.fi"),
        make_user("fine@example.fi"),
    )
    smtp_settings.rcpt_replies = {
        gone.email: "550 5.1.1 No such user",
        busy.email: "452 4.2.2 Mailbox full",
    }
    campaign = make_campaign(audience_include_staff=False)
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    rows = {d.user_id: d for d in Delivery.objects.filter(campaign=campaign)}
    assert rows[gone.pk].status == Delivery.Status.FAILED
    assert rows[gone.pk].outcome == Delivery.Outcome.BOUNCED
    assert rows[busy.pk].status == Delivery.Status.PENDING  # retried later
    assert rows[busy.pk].outcome == ""
    assert rows[fine.pk].status == Delivery.Status.SENT
    assert _marked(gone) and not _marked(busy) and not _marked(fine)
    gone.refresh_from_db()
    assert "550" in gone.email_undeliverable_reason and gone.requires_check_details
    progress = selectors.campaign_progress(campaign=campaign)
    assert progress.bounced == 1


def _mark(user, reason="bounced: mailbox not found"):
    from notifications.deliverability import email_undeliverable_mark

    assert email_undeliverable_mark(email=user.email, kind="bounced", reason=reason)
    user.refresh_from_db()


def test_verifying_the_address_clears_the_mark(make_user):
    person = make_user()
    _mark(person)
    user_email_verified(user=person, email=person.email)
    person.refresh_from_db()
    assert person.email_undeliverable_at is None and person.email_undeliverable_reason == ""
    assert AuditEvent.objects.filter(
        action="email.undeliverable_cleared", target_user=person
    ).exists()


def test_omat_tiedot_says_email_could_not_be_delivered(client, make_user):
    person = make_user()
    _mark(person)
    get_user_model().objects.filter(pk=person.pk).update(requires_check_details=False)
    client.force_login(person)
    html = client.get(reverse("posti_accounts:profile")).content.decode()
    assert "Emme saaneet sähköpostia perille tähän osoitteeseen" in html


def test_main_user_sees_the_flag_in_the_member_list(client, make_user):
    from tests.factories import MembershipFactory, OrganizationFactory

    org = OrganizationFactory()
    main, member, other = make_user(), make_user("member@example.fi"), make_user()
    MembershipFactory(user=main, organization=org, role="main_user")
    MembershipFactory(user=member, organization=org)
    MembershipFactory(user=other, organization=org)
    _mark(member)
    client.force_login(main)
    html = client.get(reverse("organizations:detail", args=[org.pk])).content.decode()
    assert html.count("Sähköposti ei mene perille") == 1
    row = next(line for line in html.split("<tr") if "member@example.fi" in line)
    assert "Sähköposti ei mene perille" in row


def test_campaign_kind_in_progress_counts(make_user, make_campaign, staff):
    campaign = make_campaign(kind=Campaign.Kind.ANNOUNCEMENT)
    progress = selectors.campaign_progress(campaign=campaign)
    assert (progress.delivered, progress.bounced, progress.complained) == (0, 0, 0)


def test_address_marked_after_the_start_is_skipped_at_send(make_user, make_campaign, staff):
    from django.core import mail

    gone, fine = make_user("gone@example.fi"), make_user("fine@example.fi")
    campaign = make_campaign(audience_include_staff=False)
    start(campaign, staff)
    _mark(gone)  # e.g. another email to it bounced meanwhile
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert [m.to for m in mail.outbox] == [[fine.email]]
    row = Delivery.objects.get(campaign=campaign, user=gone)
    assert row.status == Delivery.Status.SKIPPED and row.last_error == "address not working"


def test_staff_retry_of_a_bounced_row_clears_the_mark(
    smtp_settings, make_user, make_campaign, staff
):
    from notifications import services

    gone = make_user("gone@example.fi")
    smtp_settings.rcpt_replies = {gone.email: "550 5.1.1 No such user"}
    campaign = make_campaign(audience_include_staff=False)
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert _marked(gone)
    smtp_settings.rcpt_replies = {}
    assert services.campaign_deliveries_retry(campaign=campaign, actor=staff) == 1
    assert not _marked(gone)
    cleared = AuditEvent.objects.get(action="email.undeliverable_cleared", target_user=gone)
    assert cleared.actor == staff
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert Delivery.objects.get(campaign=campaign, user=gone).status == Delivery.Status.SENT
