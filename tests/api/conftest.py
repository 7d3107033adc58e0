"""API fixtures: two organizations with main users and members (set up through the
organizations services), bearer tokens with chosen scopes, and API clients."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, set_token_value
from rest_framework.test import APIClient

from organizations import services as org_services
from organizations.models import Membership
from sso.services import relying_party_register
from tests.factories import EServiceFactory, UserFactory

ALL_SCOPES = ["openid", "profile", "email", "organizations", "organizations:manage"]


@pytest.fixture
def eservices(db):
    return [
        EServiceFactory(code="laskutus"),
        EServiceFactory(code="seuranta", requires_membership=False),
    ]


def _org(name: str, business_id: str, main_user, members, services):
    organization = org_services.organization_create(
        name=name, business_id=business_id, actor=None, main_user=main_user
    )
    for member in members:
        org_services.membership_create(
            organization=organization, user=member, services=services, actor=None, notify=False
        )
    org_services.membership_invite(
        organization=organization, email=f"invitee@{business_id[:7]}.fi", actor=main_user
    )
    return organization


@pytest.fixture
def world(db, eservices):
    """Organization A (main user `main_a`, member `member_a`) and B (`main_b`, `member_b`)."""
    users = {
        name: UserFactory(email=f"{name}@example.fi", password="x" * 16)
        for name in ("main_a", "member_a", "main_b", "member_b")
    }
    org_a = _org("Alfa Oy", "1234567-1", users["main_a"], [users["member_a"]], eservices[:1])
    org_b = _org("Beta Oy", "7654321-2", users["main_b"], [users["member_b"]], eservices[:1])
    return {"org_a": org_a, "org_b": org_b, **users}


@pytest.fixture
def application(db, eservices):
    relying_party, _secret = relying_party_register(
        name="API client",
        eservice=eservices[1],
        redirect_uris=["https://rp.example.fi/cb"],
        actor=None,
    )
    return relying_party.application


@pytest.fixture
def make_token(application):
    """A bearer token for `user` with `scopes` (stored hashed, like the token endpoint does)."""

    def make(user, scopes=ALL_SCOPES, *, expires_in: int = 600) -> str:
        raw = secrets.token_urlsafe(30)
        token = AccessToken(
            user=user,
            application=application,
            expires=timezone.now() + timedelta(seconds=expires_in),
            scope=" ".join(scopes),
        )
        set_token_value(token, raw)
        token.save()
        return raw

    return make


@pytest.fixture
def bearer(make_token):
    """An APIClient authenticated with a bearer token for `user`."""

    def make(user, scopes=ALL_SCOPES) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user, scopes)}")
        return client

    return make


def membership(user, organization) -> Membership:
    return Membership.objects.get(user=user, organization=organization)
