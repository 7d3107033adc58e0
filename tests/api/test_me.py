"""`/api/v1/me` and `/api/v1/me/organizations`: own details through the same service as the
Omat tiedot page, fields a caller must not set, session CSRF, scopes and the error format."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from posti_accounts.models import AuditEvent, User
from posti_accounts.phone import MSG_PHONE_INVALID

pytestmark = pytest.mark.django_db


def test_me_read_with_token(world, bearer):
    user = world["member_a"]
    response = bearer(user, ["openid", "profile"]).get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["uuid"] == str(user.uuid)
    assert body["email"] == user.email
    assert body["email_verified"] is True
    assert "id" not in body and "is_staff" not in body and "password" not in body


def test_me_update_uses_the_profile_service(world, bearer):
    user = world["member_a"]
    response = bearer(user, ["profile"]).patch(
        "/api/v1/me",
        {"first_name": " Liisa ", "phone": "040 123 4567", "preferred_language": "sv"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert (user.first_name, user.phone, user.preferred_language) == (
        "Liisa",
        "+358401234567",
        "sv",
    )
    event = AuditEvent.objects.get(action="details.updated", target_user=user)
    assert event.actor == user
    assert sorted(event.details["fields"]) == ["first_name", "phone", "preferred_language"]


def test_me_update_ignores_fields_the_caller_must_not_set(world, bearer):
    user = world["member_a"]
    response = bearer(user, ["profile"]).patch(
        "/api/v1/me",
        {
            "email": "attacker@example.fi",
            "is_staff": True,
            "is_superuser": True,
            "uuid": "00000000-0000-0000-0000-000000000000",
            "email_verified": False,
            "last_name": "Uusi",
        },
        format="json",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email == "member_a@example.fi"
    assert not user.is_staff and not user.is_superuser
    assert str(user.uuid) != "00000000-0000-0000-0000-000000000000"
    assert user.last_name == "Uusi"


def test_me_invalid_phone_is_a_field_error(world, bearer):
    user = world["member_a"]
    response = bearer(user, ["profile"]).patch("/api/v1/me", {"phone": "12"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["phone"] == [str(MSG_PHONE_INVALID)]
    assert User.objects.get(pk=user.pk).phone == ""


def test_session_write_requires_csrf(world):
    user = world["member_a"]
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/v1/me").status_code == 200  # reads need no token
    response = client.patch("/api/v1/me", {"first_name": "Ei"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert User.objects.get(pk=user.pk).first_name != "Ei"
    # With the CSRF token from the cookie it goes through.
    client.get("/profile/")
    token = client.cookies["csrftoken"].value
    response = client.patch(
        "/api/v1/me", {"first_name": "Kyllä"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200
    assert User.objects.get(pk=user.pk).first_name == "Kyllä"


def test_unauthenticated_is_401_with_bearer_challenge(db):
    response = APIClient().get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"


def test_expired_and_unknown_tokens_are_401(world, make_token):
    user = world["member_a"]
    expired = make_token(user, ["profile"], expires_in=-10)
    for token in (expired, "not-a-token"):
        response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401


def test_token_in_query_string_is_not_accepted(world, make_token):
    token = make_token(world["member_a"], ["profile"])
    assert APIClient().get(f"/api/v1/me?access_token={token}").status_code == 401


@pytest.mark.parametrize(
    ("path", "needs"),
    [
        ("/api/v1/me", "profile"),
        ("/api/v1/me/organizations", "organizations"),
        ("/api/v1/organizations/{org}/members", "organizations:manage"),
        ("/api/v1/organizations/{org}/invitations", "organizations:manage"),
    ],
)
def test_scopes_are_enforced(world, bearer, path, needs):
    path = path.format(org=world["org_a"].pk)
    user = world["main_a"]
    others = [s for s in ["openid", "profile", "email", "organizations"] if s != needs]
    refused = bearer(user, others).get(path)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert bearer(user, ["openid", needs]).get(path).status_code == 200


def test_my_organizations(world, bearer):
    response = bearer(world["member_a"], ["organizations"]).get("/api/v1/me/organizations")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    [row] = body["results"]
    assert row == {
        "organization_id": world["org_a"].pk,
        "name": "Alfa Oy",
        "business_id": "1234567-1",
        "role": "member",
        "status": "active",
        "eservices": ["laskutus"],
    }


def test_eservices_catalog(world, bearer):
    response = bearer(world["member_b"], ["openid"]).get("/api/v1/eservices")
    assert response.status_code == 200
    codes = {(r["code"], r["requires_membership"]) for r in response.json()["results"]}
    assert codes == {("laskutus", True), ("seuranta", False)}


def test_unknown_api_path_is_json_404(world, bearer):
    response = bearer(world["main_a"]).get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
