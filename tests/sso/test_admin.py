"""Staff register an e-service client in the admin: the application with its e-service link."""

from __future__ import annotations

import pytest
from oauth2_provider.models import get_application_model

from posti_accounts.models import AuditEvent
from sso.models import RelyingParty
from tests.sso.conftest import REDIRECT_URI

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/oauth2_provider/application/add/"


def _form_data(response) -> dict:
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if callable(value):
            value = value()
        if value is None:
            continue
        data[name] = "on" if value is True else value
        if value is False:
            data.pop(name)
    return data


def test_staff_registers_an_eservice_client(admin_client, settings, eservice):
    settings.ADMIN_REQUIRE_2FA = False
    page = admin_client.get(ADD_URL)
    assert page.status_code == 200
    data = _form_data(page)
    assert data["algorithm"] == "RS256"
    assert data["authorization_grant_type"] == "authorization-code"
    secret = data["client_secret"]
    data.update(
        {
            "name": "Yrityspalvelu",
            "redirect_uris": REDIRECT_URI,
            "relying_party-TOTAL_FORMS": "1",
            "relying_party-INITIAL_FORMS": "0",
            "relying_party-MIN_NUM_FORMS": "1",
            "relying_party-MAX_NUM_FORMS": "1",
            "relying_party-0-eservice": str(eservice.pk),
            "relying_party-0-first_party": "on",
            "skip_authorization": "",  # read-only: ignored
        }
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    application = get_application_model().objects.get(name="Yrityspalvelu")
    link = RelyingParty.objects.get(application=application)
    assert link.eservice == eservice and link.first_party
    assert application.skip_authorization is True
    assert application.client_secret != secret  # stored hashed
    event = AuditEvent.objects.get(action="sso.client_linked")
    assert event.details["eservice"] == eservice.code
    assert secret not in str(event.details)


def test_application_needs_an_eservice(admin_client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    data = _form_data(admin_client.get(ADD_URL))
    data.update(
        {
            "name": "Ilman palvelua",
            "redirect_uris": REDIRECT_URI,
            "relying_party-TOTAL_FORMS": "1",
            "relying_party-INITIAL_FORMS": "0",
            "relying_party-MIN_NUM_FORMS": "1",
            "relying_party-MAX_NUM_FORMS": "1",
            "relying_party-0-eservice": "",
        }
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert not get_application_model().objects.filter(name="Ilman palvelua").exists()
