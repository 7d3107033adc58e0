"""Fixtures for the campaign tests: users made through the service, a real aiosmtpd SMTP
server on loopback whose replies a test can script, and a controllable clock."""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from notifications import services
from notifications.models import Campaign
from posti_accounts.services import user_create


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    """Accepts mail and records (recipient, Message-ID, subject, body). `data_replies` and
    `rcpt_replies` are scripted replies consumed in order (then 250)."""

    def __init__(self):
        self.messages: list[dict] = []
        self.data_replies: list[str] = []
        self.rcpt_replies: dict[str, str] = {}
        self.on_data = None  # optional callback(index) -> reply or None, before accepting
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            if self.on_data is not None:
                reply = self.on_data(len(self.messages))
                if reply:
                    return reply
            if self.data_replies:
                return self.data_replies.pop(0)
            msg = message_from_bytes(envelope.content)
            body = msg.get_payload(decode=True)
            self.messages.append(
                {
                    "to": list(envelope.rcpt_tos),
                    "message_id": msg["Message-ID"],
                    "subject": str(msg["Subject"]),
                    "body": body.decode() if body else "",
                }
            )
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    return smtp_server


class FakeClock:
    def __init__(self, start: datetime | None = None):
        # Start at the beginning of a minute so throttle windows are predictable.
        base = start or timezone.now()
        self.now = base.replace(second=0, microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_user(db):
    counter = {"n": 0}

    def make(email=None, *, verified=True, language="fi", first_name="Maija", **kwargs):
        counter["n"] += 1
        return user_create(
            email=email or f"person{counter['n']}@example.fi",
            first_name=first_name,
            last_name="Meikäläinen",
            preferred_language=language,
            email_verified=verified,
            **kwargs,
        )

    return make


@pytest.fixture
def staff(db):
    return user_create(
        email="staff@posti.example", first_name="Staff", is_staff=True, email_verified=True
    )


@pytest.fixture
def make_campaign(staff):
    def make(kind=Campaign.Kind.ANNOUNCEMENT, **fields):
        fields.setdefault("name", f"Test {kind}")
        # These tests count the staff member who runs them among the recipients; the rule
        # that staff are left out by default is tested in test_audience_rules.py.
        fields.setdefault("audience_include_staff", True)
        if kind == Campaign.Kind.MERGE_NOTICE:
            fields.setdefault("cutover_date", timezone.localdate() + timedelta(days=30))
        return services.campaign_create(actor=staff, kind=kind, **fields)

    return make


def start(campaign, staff, **kwargs):
    """Start without the on-commit kick (tests drive the sending themselves)."""
    return services.campaign_start(campaign=campaign, actor=staff, **kwargs)
