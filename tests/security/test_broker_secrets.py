"""Finding 13: nothing secret travels through the broker.

Rules (invariant 7):
- An email is written to the outbox (`posti_accounts.OutboundEmail`) in the transaction that
  decides to send it; the Celery message carries only the row's id, never the address,
  subject, body or any link or token in it.
- The worker loads the row, sends it, marks it sent and blanks its bodies, so a reset or
  invitation link does not stay in the database either.
- A message the broker lost (or never got: Redis down) only delays the email: the periodic
  sweep hands rows left unsent for `OUTBOUND_EMAIL_SWEEP_AFTER_SECONDS` to the broker again.
  A row is claimed before it is sent, so a redelivered message never sends it twice.
"""

from __future__ import annotations

import json
import re
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils import timezone

from config.celery import app
from organizations import services as org_services
from posti_accounts.emails import email_send_rendered
from tests.factories import UserFactory
from tests.posti_accounts._auth_helpers import committing_client

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+")


@pytest.fixture
def broker(settings):
    """The real Celery producer with eager mode off: messages go to the in-memory broker,
    where the test reads them as a worker would receive them."""
    eager = app.conf.task_always_eager  # read before the settings change (loaded lazily)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False

    def drain() -> list[dict]:
        out = []
        with app.connection_for_read() as conn:
            queue = conn.SimpleQueue("celery")
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                out.append(
                    {
                        "raw": json.dumps(
                            {"headers": message.headers, "body": message.decode()}, default=str
                        ),
                        "task": message.headers["task"],
                        "args": message.decode()[0],
                    }
                )
                message.ack()
            queue.close()
        return out

    drain()
    try:
        yield drain
    finally:
        drain()
        app.conf.task_always_eager = eager


def _deliver(messages):
    """Run each received message's task as the worker would."""
    for message in messages:
        app.tasks[message["task"]].apply(args=message["args"])


@pytest.fixture
def web(django_capture_on_commit_callbacks):
    return committing_client(django_capture_on_commit_callbacks)


def _assert_nothing_secret(messages, *secrets):
    assert messages, "no message reached the broker"
    for message in messages:
        assert message["task"] == "posti_accounts.tasks.email_deliver"
        assert not LINK.search(message["raw"]), message["raw"]
        for secret in secrets:
            assert secret not in message["raw"]
        (email_id,) = message["args"]
        assert isinstance(email_id, int)


def test_password_reset_link_is_not_in_the_broker(broker, web, user):
    web.post(reverse("account_reset_password"), {"email": user.email})
    messages = broker()
    _assert_nothing_secret(messages, user.email, "/password/reset/key/")
    assert mail.outbox == []
    _deliver(messages)
    assert mail.outbox[0].to == [user.email]
    assert "/password/reset/key/" in mail.outbox[0].body


def test_invitation_link_is_not_in_the_broker(broker, django_capture_on_commit_callbacks):
    main = UserFactory(email="main@example.fi")
    org = org_services.organization_create(
        name="Alfa Oy", business_id="1234567-1", actor=None, main_user=main
    )
    broker()  # the welcome/notice mails of setting up the organization
    with django_capture_on_commit_callbacks(execute=True):
        invitation = org_services.membership_invite(
            organization=org, email="new@example.com", actor=main
        )
    messages = broker()
    _assert_nothing_secret(messages, invitation.token, "new@example.com")
    _deliver(messages)
    assert invitation.token in mail.outbox[-1].body


def test_email_confirmation_key_is_not_in_the_broker(broker, web):
    web.post(
        reverse("account_signup"),
        {
            "email": "signup@example.fi",
            "password1": "a-long-enough-passphrase-42",
            "password2": "a-long-enough-passphrase-42",
        },
    )
    messages = broker()
    _assert_nothing_secret(messages, "signup@example.fi", "/confirm-email/")
    _deliver(messages)
    assert "/confirm-email/" in mail.outbox[-1].body


def test_sent_email_keeps_no_body(broker, django_capture_on_commit_callbacks):
    from posti_accounts.models import OutboundEmail

    with django_capture_on_commit_callbacks(execute=True):
        email_send_rendered(
            to="a@example.fi", subject="Reset", text="https://x.fi/reset/SECRET", html="<p>x</p>"
        )
    _deliver(broker())
    row = OutboundEmail.objects.get()
    assert row.status == OutboundEmail.Status.SENT
    assert row.sent_at is not None
    assert (row.text, row.html) == ("", "")
    assert mail.outbox[0].body == "https://x.fi/reset/SECRET"


def test_the_outbox_row_is_part_of_the_callers_transaction():
    """Rolled back with the change that wanted it: no email about something that did not
    happen."""
    from django.db import transaction

    from posti_accounts.models import OutboundEmail

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        email_send_rendered(to="a@example.fi", subject="S", text="t")
        assert OutboundEmail.objects.count() == 1
        raise Abort
    assert OutboundEmail.objects.count() == 0


def test_a_redelivered_message_sends_once(broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email_send_rendered(to="a@example.fi", subject="S", text="t")
    messages = broker()
    _deliver(messages)
    _deliver(messages)  # the broker delivers it again (acks_late, a worker restart)
    assert len(mail.outbox) == 1


def test_broker_down_only_delays_the_email(
    broker, django_capture_on_commit_callbacks, monkeypatch, settings
):
    from kombu.exceptions import OperationalError

    from posti_accounts import emails
    from posti_accounts.models import OutboundEmail
    from posti_accounts.tasks import email_deliver

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as m:
        m.setattr(email_deliver, "apply_async", down)
        with django_capture_on_commit_callbacks(execute=True):
            email_send_rendered(to="a@example.fi", subject="S", text="t")  # no exception
    assert OutboundEmail.objects.get().status == OutboundEmail.Status.PENDING
    assert broker() == []
    # Not yet due: the sweep leaves recent rows to the message already on its way.
    assert emails.outbound_emails_sweep() == 0
    OutboundEmail.objects.update(
        queued_at=timezone.now()
        - timedelta(seconds=settings.OUTBOUND_EMAIL_SWEEP_AFTER_SECONDS + 1)
    )
    assert emails.outbound_emails_sweep() == 1
    messages = broker()
    _assert_nothing_secret(messages, "a@example.fi")
    _deliver(messages)
    assert [m.to for m in mail.outbox] == [["a@example.fi"]]
    assert OutboundEmail.objects.get().status == OutboundEmail.Status.SENT
    assert emails.outbound_emails_sweep() == 0


def test_sweep_is_on_the_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "posti_accounts.tasks.outbound_emails_sweep" in tasks


class FailingBackend(EmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_transient_failures_retry_then_give_up_and_blank(
    settings, broker, django_capture_on_commit_callbacks
):
    from posti_accounts import emails

    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    settings.OUTBOUND_EMAIL_MAX_ATTEMPTS = 2
    with django_capture_on_commit_callbacks(execute=True):
        row = email_send_rendered(to="a@example.fi", subject="S", text="https://x.fi/SECRET")
    broker()
    with pytest.raises(OSError):
        emails.outbound_email_send(email_id=row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.text) == ("pending", 1, "https://x.fi/SECRET")
    assert "SMTPServerDisconnected" in row.last_error
    assert emails.outbound_email_send(email_id=row.pk) == "failed"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.text, row.html) == ("failed", 2, "", "")
    assert emails.outbound_emails_sweep() == 0


def test_old_rows_are_pruned(django_capture_on_commit_callbacks, settings):
    from posti_accounts import emails
    from posti_accounts.models import OutboundEmail

    with django_capture_on_commit_callbacks(execute=True):
        email_send_rendered(to="old@example.fi", subject="S", text="t")
        email_send_rendered(to="new@example.fi", subject="S", text="t")
    OutboundEmail.objects.filter(to="old@example.fi").update(
        created_at=timezone.now() - timedelta(days=settings.OUTBOUND_EMAIL_RETENTION_DAYS + 1)
    )
    emails.outbound_emails_sweep()
    assert list(OutboundEmail.objects.values_list("to", flat=True)) == ["new@example.fi"]
