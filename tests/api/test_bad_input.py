"""Bad input to the API is a 4xx in the one error format, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from organizations.models import Invitation
from tests.api.conftest import membership

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        {"search": "a\x00b"},
        {"role": "\x00"},
        {"status": "\x00"},
        {"eservice": "\x00"},
        {"eservice": "no-such"},
        {"page": "99999999999999999999"},
        {"page": "x"},
        {"page_size": "\x00"},
        {"page_size": "-5"},
    ],
)
def test_member_list_bad_query(world, bearer, query):
    client = bearer(world["main_a"])
    url = reverse("api:members", kwargs={"organization_id": world["org_a"].pk})
    response = client.get(url, query)
    assert response.status_code in (200, 404), response.status_code
    if response.status_code == 404:
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a\x00@example.fi"},
        {"email": "a@example.fi", "eservices": ["la\x00skutus"]},
        {"email": "a@example.fi", "role": "main_user\x00"},
        {"email": "x" * 300},
        {"email": ["a@example.fi"]},
    ],
)
def test_invite_bad_body(world, bearer, body):
    client = bearer(world["main_a"])
    url = reverse("api:members", kwargs={"organization_id": world["org_a"].pk})
    before = Invitation.objects.count()
    response = client.post(url, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"]
    assert Invitation.objects.count() == before


@pytest.mark.parametrize(
    "body",
    [
        {"invitations": [{"email": "a\x00@example.fi"}]},
        {"invitations": [{"email": f"u{i}@example.fi"} for i in range(1001)]},
        {"invitations": []},
        {"invitations": "nope"},
    ],
)
def test_bulk_invite_bad_body(world, bearer, body):
    client = bearer(world["main_a"])
    url = reverse("api:invitations", kwargs={"organization_id": world["org_a"].pk})
    before = Invitation.objects.count()
    response = client.post(url, body, format="json")
    assert response.status_code == 400
    assert Invitation.objects.count() == before


@pytest.mark.parametrize(
    "body", [{"role": "\x00"}, {"eservices": ["\x00"]}, {"eservices": "laskutus"}, []]
)
def test_member_patch_bad_body(world, bearer, body):
    client = bearer(world["main_a"])
    m = membership(world["member_a"], world["org_a"])
    url = reverse(
        "api:member", kwargs={"organization_id": world["org_a"].pk, "membership_id": m.pk}
    )
    response = client.patch(url, body, format="json")
    assert response.status_code == 400
