"""Every link in an email is built from the one configured SITE_URL, whatever host the
request came in on; in development SITE_URL follows the port the server runs on."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from notifications import sending
from notifications.models import Campaign
from organizations.services import membership_invite
from tests.factories import OrganizationFactory

from .conftest import start

pytestmark = pytest.mark.django_db
SITE = "https://tunnus.example.fi"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def site(settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["*"]
    # The portal's emails leave from a task after commit.
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _links(message) -> list[str]:
    text = message.body + "".join(str(c) for c, _m in getattr(message, "alternatives", []))
    return re.findall(r"https?://[^\s\"'<>]+", text)


def _all_on_site(message):
    links = _links(message)
    assert links, message.body
    assert all(link.startswith(SITE + "/") for link in links), links
    return links


def test_signup_verification_link(client, site):
    with site():
        client.post(
            reverse("account_signup"),
            {
                "email": "new@example.fi",
                "password1": "Hyvä-salasana-2026",
                "password2": "Hyvä-salasana-2026",
            },
            HTTP_HOST="internal-host:9999",
        )
    [message] = mail.outbox
    links = _all_on_site(message)
    assert any("/accounts/confirm-email/" in link for link in links)


def test_password_reset_links(client, site, make_user):
    person = make_user(password="correct-horse-battery-42")
    for email in (person.email, "nobody@example.fi"):
        with site():
            client.post(reverse("account_reset_password"), {"email": email}, HTTP_HOST="o:1")
    known, unknown = mail.outbox
    assert any("/accounts/password/reset/key/" in link for link in _all_on_site(known))
    _all_on_site(unknown)


def test_invitation_link(site, make_user, staff):
    org = OrganizationFactory()
    with site():
        membership_invite(organization=org, email="invitee@example.fi", actor=staff)
    [message] = mail.outbox
    assert any("/organizations/invitations/" in link for link in _all_on_site(message))


def test_campaign_links(site, make_user, make_campaign, staff):
    make_user()
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW)
    start(campaign, staff)
    sending.deliveries_send_batch(campaign_id=campaign.pk)
    assert mail.outbox
    for message in mail.outbox:
        assert any("/n/a/" in link for link in _all_on_site(message))


def _dev_site_url(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "PORT")}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.local")
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env may set SITE_URL")
def test_development_site_url_follows_the_port():
    assert _dev_site_url(PORT="8741") == "http://127.0.0.1:8741"
    assert _dev_site_url() == "http://127.0.0.1:8000"
    assert _dev_site_url(PORT="8741", SITE_URL="https://x.example/") == "https://x.example"


def test_make_run_passes_the_port():
    makefile = (ROOT / "Makefile").read_text()
    assert "PORT=$(PORT) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)" in makefile


def test_required_action_verification_link(client, site, make_user):
    from django.contrib.auth import get_user_model

    person = make_user(verified=False)
    get_user_model().objects.filter(pk=person.pk).update(requires_verify_email=True)
    client.force_login(person)
    with site():
        client.post(reverse("posti_accounts:action_verify_email"), HTTP_HOST="o:1")
    [message] = mail.outbox
    _all_on_site(message)


def _setting(name: str, **env) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ANYMAIL_", "EMAIL_"))}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.production")
    clean.setdefault("SECRET_KEY", "x" * 60)
    code = f"from config.settings import base; print(base.{name})"
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_email_backend_stays_smtp_unless_a_provider_is_chosen():
    smtp = _setting("EMAIL_BACKEND", EMAIL_URL="smtp://127.0.0.1:25")
    assert smtp == "django.core.mail.backends.smtp.EmailBackend"
    chosen = _setting("EMAIL_BACKEND", EMAIL_URL="smtp://127.0.0.1:25", ANYMAIL_ESP="postmark")
    assert chosen == "anymail.backends.postmark.EmailBackend"
    assert "test-token" in _setting("ANYMAIL", ANYMAIL_ESP="postmark", ANYMAIL_API_KEY="test-token")
