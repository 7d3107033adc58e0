"""Fixtures for single sign-on tests: e-services registered as OIDC clients, users with and
without memberships, and a requests-based browser that logs in through the real login form."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests

from organizations import services as org_services
from organizations.models import Membership
from sso.services import relying_party_register
from tests.factories import EServiceFactory, UserFactory

REDIRECT_URI = "https://rp.example.fi/callback"
POST_LOGOUT_URI = "https://rp.example.fi/logged-out"


class _Forms(HTMLParser):
    """Collects every <form> with its action and named inputs/buttons."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"id": attrs.get("id", ""), "action": attrs.get("action"), "f": {}})
        elif tag in {"input", "button"} and self.forms and attrs.get("name"):
            if attrs.get("type") in {"checkbox", "radio"} and "checked" not in attrs:
                return
            if tag == "button":
                return
            self.forms[-1]["f"][attrs["name"]] = attrs.get("value") or ""


def parse_forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    """A user agent for the authorization endpoint: follows redirects itself, logs in on the
    real allauth login form, and stops at the relying party's redirect URI."""

    def __init__(self, base_url: str, email: str, password: str, allow_consent: bool = True):
        self.base = base_url
        self.session = requests.Session()
        self.email, self.password = email, password
        self.allow_consent = allow_consent
        self.pages: list[requests.Response] = []

    def run(
        self, url: str, stop_prefix: str = REDIRECT_URI
    ) -> tuple[str | None, requests.Response]:
        """Returns (redirect URL at `stop_prefix` or None, the last response)."""
        response = self.session.get(url, allow_redirects=False)
        for _ in range(20):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if location.startswith(stop_prefix):
                    return location, response
                response = self.session.get(location, allow_redirects=False)
                continue
            self.pages.append(response)
            forms = parse_forms(response.text) if response.status_code == 200 else []
            login = next((f for f in forms if "login" in f["f"] and "password" in f["f"]), None)
            consent = next((f for f in forms if f["id"] == "authorizationForm"), None)
            if login is not None:
                data = {**login["f"], "login": self.email, "password": self.password}
                response = self.session.post(
                    urljoin(response.url, login["action"] or response.url),
                    data=data,
                    allow_redirects=False,
                    headers={"Referer": response.url},
                )
            elif consent is not None:
                data = dict(consent["f"])
                if self.allow_consent:
                    data["allow"] = "Authorize"
                response = self.session.post(response.url, data=data, allow_redirects=False)
            else:
                return None, response
        raise AssertionError("too many redirects")


@pytest.fixture
def eservice(db):
    return EServiceFactory(code="yrityspalvelu", requires_membership=True)


@pytest.fixture
def open_eservice(db):
    return EServiceFactory(code="seuranta", requires_membership=False)


@pytest.fixture
def client_factory(db):
    def make(eservice, *, first_party=True, confidential=True):
        relying_party, secret = relying_party_register(
            name=f"Client for {eservice.code}",
            eservice=eservice,
            redirect_uris=[REDIRECT_URI],
            post_logout_redirect_uris=[POST_LOGOUT_URI],
            first_party=first_party,
            confidential=confidential,
            actor=None,
        )
        return relying_party.application.client_id, secret

    return make


@pytest.fixture
def member(db, password, eservice):
    """A user whose active membership grants `eservice`."""
    user = UserFactory(password=password, first_name="Maija", last_name="Meikäläinen")
    organization = org_services.organization_create(
        name="Esimerkki Oy", business_id="1234567-1", actor=None, main_user=user
    )
    membership = Membership.objects.get(user=user, organization=organization)
    org_services.membership_services_set(membership=membership, services=[eservice], actor=None)
    return user
