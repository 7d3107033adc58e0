"""The help page: seeded texts in three languages, staff edit them (audited), what they type is
shown escaped, and the page is linked from the header, the login page and campaign emails."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from config.models import HelpEntry
from notifications.models import Campaign
from notifications.sending import CampaignRenderer
from notifications.services import campaign_create
from posti_accounts.models import AuditEvent, User
from posti_accounts.services import user_create, user_required_action_set

pytestmark = pytest.mark.django_db

URL = "/help/"


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "fi",
            [
                "Mitä palveluja muutos koskee?",
                "pääkäyttäjät",
                "yhteiskäytössä",
                "usean organisaation",
                "kuluttaja- ja yrityskäytön",
                "sähköpostiosoitteeni",
                "Vanha käyttäjätunnukseni",
            ],
        ),
        (
            "sv",
            [
                "Vilka tjänster gäller förändringen?",
                "huvudanvändare",
                "delade konton",
                "flera organisationer",
                "privat bruk",
                "e-postadress ändras",
                "gamla användarnamn",
            ],
        ),
        (
            "en",
            [
                "Which services does the change cover?",
                "main users",
                "shared accounts",
                "several organizations",
                "consumer and business",
                "email address changes",
                "old username",
            ],
        ),
    ],
)
def test_seeded_common_questions_in_each_language(client, language, phrases):
    assert HelpEntry.objects.count() == 7
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    body = response.content.decode()
    for phrase in phrases:
        assert phrase in body, phrase


def test_every_seeded_text_is_complete():
    for entry in HelpEntry.objects.all():
        for lang in ("fi", "sv", "en"):
            question, answer = entry.text(lang)
            assert question == getattr(entry, f"question_{lang}") and len(answer) > 80


def test_empty_language_falls_back_to_finnish(client):
    entry = HelpEntry.objects.order_by("position").first()
    HelpEntry.objects.filter(pk=entry.pk).update(question_sv="", answer_sv="")
    body = client.get(URL, HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert entry.question_fi in body


def test_unpublished_entries_are_hidden(client):
    entry = HelpEntry.objects.order_by("position").first()
    HelpEntry.objects.filter(pk=entry.pk).update(is_published=False)
    assert entry.question_fi not in client.get(URL).content.decode()


def test_what_staff_type_is_escaped(client):
    HelpEntry.objects.create(
        position=1,
        question_fi='<img src=x onerror="alert(1)">',
        answer_fi="<script>alert(1)</script>\n\nKatso https://www.posti.fi/ohje",
        question_sv="q",
        answer_sv="a",
        question_en="q",
        answer_en="a",
    )
    body = client.get(URL).content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    assert "<img src=x" not in body
    assert 'href="https://www.posti.fi/ohje"' in body  # addresses are linked


def test_post_is_refused(client):
    assert client.post(URL).status_code == 405


@pytest.fixture
def editor(client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    staff = user_create(email="editor@posti.example", password="x" * 16, is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_helpentry", "view_helpentry"])
    )
    client.force_login(User.objects.get(pk=staff.pk))
    return staff


def test_staff_edit_a_text_in_the_admin_without_a_deploy(client, editor):
    entry = HelpEntry.objects.order_by("position").first()
    url = reverse("admin:project_helpentry_change", args=[entry.pk])
    data = {
        field: getattr(entry, field)
        for field in (
            "position",
            "question_fi",
            "question_sv",
            "question_en",
            "answer_fi",
            "answer_sv",
            "answer_en",
        )
    }
    data.update(is_published="on", answer_sv="Ny text för hjälpsidan.")
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry.refresh_from_db()
    assert entry.answer_sv == "Ny text för hjälpsidan."
    event = AuditEvent.objects.get(action="help.entry_changed")
    assert event.actor_id == editor.pk
    assert event.details == {"entry": entry.pk, "fields": ["answer_sv"]}
    client.logout()
    assert "Ny text för hjälpsidan." in client.get(URL, HTTP_ACCEPT_LANGUAGE="sv").content.decode()


def test_linked_from_the_header_and_the_login_page(client):
    login = client.get(reverse("account_login")).content.decode()
    assert login.count('href="/help/"') >= 2  # header and the login form's note
    home = client.get("/").content.decode()
    assert 'href="/help/"' in home


def test_reachable_while_a_required_action_is_pending(client):
    user = user_create(email="stuck@example.fi", password="x" * 16, email_verified=True)
    user_required_action_set(user=user, action="update_password")
    client.force_login(user)
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize("kind", [k for k, _ in Campaign.Kind.choices])
def test_campaign_emails_link_to_the_help_page(kind, settings):
    staff = user_create(email="camp@posti.example", password="x" * 16, is_staff=True)
    campaign = campaign_create(actor=staff, name="c", kind=kind)
    recipient = user_create(email="r@example.fi", preferred_language="sv")
    _subject, body = CampaignRenderer(campaign).render(
        user=recipient, action_url="https://x.example/a", organization_names=""
    )
    assert settings.SITE_URL.rstrip("/") + "/help/" in body
