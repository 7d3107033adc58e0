"""Every email allauth sends uses the portal's own text, in the reader's language: never
allauth's stock wording ("to register an account on 127.0.0.1") and never a host name taken
from the request."""

from __future__ import annotations

from pathlib import Path

import allauth
import pytest
from allauth.account.adapter import get_adapter
from django.utils import timezone, translation

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STOCK = Path(allauth.__file__).parent / "templates" / "account" / "email"
PREFIXES = sorted(p.name.removesuffix("_subject.txt") for p in STOCK.glob("*_subject.txt"))
CLOSING = {"fi": "Ystävällisin terveisin", "sv": "Med vänliga hälsningar", "en": "Best regards,"}
STOCK_PHRASES = ["Hello from", "Thank you for using", "register an account", "You're receiving"]


def _context(user):
    return {
        "user": user,
        "email": user.email,
        "activate_url": "https://portal.example/accounts/confirm-email/k/",
        "password_reset_url": "https://portal.example/accounts/password/reset/key/x/",
        "signup_url": "https://portal.example/accounts/signup/",
        "code": "",
        "key": "",
        "from_email": "vanha@example.fi",
        "to_email": user.email,
        "deleted_email": "vanha@example.fi",
        "timestamp": timezone.now(),
        "ip": "192.0.2.1",
        "user_agent": "test",
    }


def test_every_stock_email_has_our_own_template():
    ours = Path(__file__).resolve().parents[2] / "templates" / "account" / "email"
    assert PREFIXES, "allauth's templates were not found"
    for prefix in PREFIXES:
        assert (ours / f"{prefix}_subject.txt").exists(), prefix
        assert (ours / f"{prefix}_message.txt").exists(), prefix


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_account_emails_are_ours_and_translated(rf, prefix, language):
    user = UserFactory(first_name="Maija", preferred_language=language)
    with translation.override(language):
        message = get_adapter(rf.get("/")).render_mail(
            f"account/email/{prefix}", user.email, _context(user)
        )
    body = message.body
    assert CLOSING[language] in body, body
    assert "Maija" in body
    for phrase in STOCK_PHRASES:
        assert phrase not in body, (prefix, phrase)
    assert "testserver" not in body
    assert "Tunnustenhallinta" not in message.subject
    assert message.subject.strip() and "\n" not in message.subject
    if language != "en":
        with translation.override("en"):
            english = get_adapter(rf.get("/")).render_mail(
                f"account/email/{prefix}", user.email, _context(user)
            )
        assert message.subject != english.subject, prefix
