"""What people read: the right language, correct Finnish, dates in the reader's format, and a
password change that says why it logged them out."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

pytestmark = pytest.mark.django_db


def _errors(response) -> list[str]:
    return re.findall(r"<li>(.*?)</li>", response.content.decode())


def test_password_too_short_is_finnish_on_finnish_pages(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "lyhyt@example.fi", "password1": "lyhyt-sala", "password2": "lyhyt-sala"},
        HTTP_ACCEPT_LANGUAGE="fi",
    )
    errors = _errors(response)
    assert "Salasana on liian lyhyt. Siinä on oltava vähintään 12 merkkiä." in errors
    assert not any("too short" in e for e in errors)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "3 Dec 2026 10:20"), ("fi", "3.12.2026 10.20"), ("sv", "2026-12-03 10:20")],
)
def test_dates_use_the_readers_format(language, expected):
    moment = timezone.make_aware(dt.datetime(2026, 12, 3, 10, 20))
    with translation.override(language):
        rendered = Template('{{ t|date:"SHORT_DATETIME_FORMAT" }}').render(Context({"t": moment}))
    assert rendered == expected


@pytest.mark.parametrize(
    ("msgid", "finnish"),
    [
        ("Action completed", "Toimenpide tehty"),
        ("Password changed", "Salasana vaihdettu"),
    ],
)
def test_event_labels_are_correct_finnish(msgid, finnish):
    from posti_accounts.templatetags.account_tags import event_label

    with translation.override("fi"):
        action = {"Action completed": "required_action.completed"}.get(msgid, "password.changed")
        assert event_label(action) == finnish
