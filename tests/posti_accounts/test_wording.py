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


def test_phone_field_is_type_tel(client, user):
    client.force_login(user)
    html = client.get("/profile/details/").content.decode()
    assert re.search(r'<input type="tel" name="phone"', html), html


def test_header_buttons_have_distinct_names(client, user):
    client.force_login(user)
    html = client.get("/profile/", HTTP_ACCEPT_LANGUAGE="fi").content.decode()
    header = html.split("<header", 1)[1].split("</header>", 1)[0]
    names = re.findall(r"<button[^>]*>(.*?)</button>", header)
    assert len(names) == len(set(names)), names
    assert "Vaihda" not in names


def test_current_page_is_marked_in_the_main_navigation(client, user):
    client.force_login(user)
    html = client.get("/profile/").content.decode()
    assert re.search(r'<a href="/profile/" aria-current="page">', html)
    assert not re.search(r'<a href="/organizations/" aria-current="page">', html)


def test_one_word_for_creating_an_account(client):
    for language, word, other in [
        ("fi", "Luo tili", "Rekisteröidy"),
        ("sv", "Skapa ett konto", "Registrera"),
    ]:
        client.cookies.clear()
        html = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert word in html and other not in html, language
        html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert word in html and other not in html, language


@pytest.mark.parametrize(
    ("language", "name"),
    [("fi", "Postin sähköiset palvelut"), ("sv", "Postens e-tjänster"), ("en", "Posti e-services")],
)
def test_one_product_name(client, language, name):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'<a class="brand" href="/">{name}</a>' in html
    assert "Tunnustenhallinta" not in html and "Inloggningshantering" not in html


def test_funnel_row_reads_as_what_recipients_did():
    from pathlib import Path

    from django.utils.translation import pgettext

    root = Path(__file__).resolve().parents[2]
    control = root / "notifications/templates/admin/notifications/campaign/control.html"
    assert '{% translate "Set a new password" context "campaign funnel" %}' in control.read_text()
    with translation.override("fi"):
        assert pgettext("campaign funnel", "Set a new password") == "Asetti uuden salasanan"
        assert translation.gettext("Set a new password") == "Aseta uusi salasana"
