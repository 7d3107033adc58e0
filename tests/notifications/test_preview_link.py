"""The preview and the test email carry a real, working link: to a page that says it is a
preview, in the language shown."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from notifications import services
from notifications.models import Campaign

pytestmark = pytest.mark.django_db


def _link(text, site_url):
    match = re.search(re.escape(site_url) + r"(/\S+)", text)
    assert match, text
    return match[1]


@pytest.mark.parametrize(
    ("language", "phrase"),
    [("fi", "Tämä on esikatselu"), ("sv", "Det här är en förhandsvisning"), ("en", "preview")],
)
def test_preview_link_opens_a_preview_page_in_that_language(
    client, settings, make_user, make_campaign, staff, language, phrase
):
    settings.SITE_URL = "http://127.0.0.1:8741"
    campaign = make_campaign(kind=Campaign.Kind.VERIFY_AND_RENEW)
    _subject, body = services.campaign_preview(campaign=campaign, language=language, user=staff)
    path = _link(body, settings.SITE_URL)
    assert path.startswith(reverse("notifications:preview"))
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert phrase in html
    assert f'lang="{language}"' in html or response["Content-Language"] == language


def test_test_email_link_works(client, settings, make_campaign, staff):
    settings.SITE_URL = "http://127.0.0.1:8741"
    campaign = make_campaign(kind=Campaign.Kind.CHECK_DETAILS)
    services.campaign_test_send(campaign=campaign, actor=staff, language="sv")
    [message] = mail.outbox
    response = client.get(_link(message.body, settings.SITE_URL))
    assert response.status_code == 200
    assert "Det här är en förhandsvisning" in response.content.decode()


def test_preview_page_with_bad_parameters_is_still_a_page(client):
    response = client.get(reverse("notifications:preview") + "?lang=zz&kind=<script>")
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()
