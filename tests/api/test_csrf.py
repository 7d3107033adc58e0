"""With a browser session, every unsafe API call needs the CSRF token (DRF's
SessionAuthentication): walks every `/api/v1/` route and every unsafe method."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from organizations.models import Invitation
from tests.api.conftest import membership
from tests.api.test_tenancy import BODIES, api_routes, snapshot

pytestmark = pytest.mark.django_db


def test_unsafe_session_calls_without_csrf_token_are_refused(world):
    org = world["org_a"]
    ids = {
        "organization_id": org.pk,
        "membership_id": membership(world["member_a"], org).pk,
        "invitation_id": Invitation.objects.get(organization=org).pk,
    }
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world["main_a"])
    refused = set()
    for name, params in api_routes():
        if name == "not-found":
            continue
        url = reverse(f"api:{name}", kwargs={k: v for k, v in ids.items() if k in params})
        for method in ("post", "put", "patch", "delete"):
            before = snapshot()
            response = getattr(client, method)(url, BODIES.get(name, {}), format="json")
            assert response.status_code in (403, 405), (method, url, response.status_code)
            assert snapshot() == before, (method, url)
            if response.status_code == 403:
                assert "CSRF" in response.json()["error"]["message"]
                refused.add((name, method))
    assert {
        ("me", "patch"),
        ("members", "post"),
        ("member", "delete"),
        ("invitations", "post"),
        ("invitation-resend", "post"),
    } <= refused
