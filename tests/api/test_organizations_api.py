"""Members and invitations through the API: the same services and rules as the main-user
pages (last main user, unknown e-service, already invited), paginated with bounded queries."""

from __future__ import annotations

import pytest
from django.core import mail

from organizations import services as org_services
from organizations.models import Invitation, Membership
from posti_accounts.models import AuditEvent
from tests.api.conftest import membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def members_url(org, *rest) -> str:
    return "/".join([f"/api/v1/organizations/{org.pk}/members", *map(str, rest)])


def invitations_url(org, *rest) -> str:
    return "/".join([f"/api/v1/organizations/{org.pk}/invitations", *map(str, rest)])


def test_main_user_lists_members(world, bearer):
    response = bearer(world["main_a"]).get(members_url(world["org_a"]))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    emails = {r["email"]: r for r in body["results"]}
    assert set(emails) == {"main_a@example.fi", "member_a@example.fi"}
    assert emails["member_a@example.fi"]["eservices"] == ["laskutus"]
    assert emails["main_a@example.fi"]["role"] == "main_user"


def test_members_list_filters(world, bearer):
    client = bearer(world["main_a"])
    body = client.get(members_url(world["org_a"]) + "?role=main_user").json()
    assert [r["email"] for r in body["results"]] == ["main_a@example.fi"]
    body = client.get(members_url(world["org_a"]) + "?search=member_a").json()
    assert [r["email"] for r in body["results"]] == ["member_a@example.fi"]


def test_plain_member_gets_404(world, bearer):
    client = bearer(world["member_a"])
    assert client.get(members_url(world["org_a"])).status_code == 404
    assert client.get(invitations_url(world["org_a"])).status_code == 404
    response = client.post(members_url(world["org_a"]), {"email": "x@example.fi"}, format="json")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": response.json()["error"]["message"], "fields": {}}
    }


def test_invite_one_member(world, bearer, django_capture_on_commit_callbacks):
    org = world["org_a"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = bearer(world["main_a"]).post(
            members_url(org),
            {
                "email": "New.Person@Example.fi",
                "role": "member",
                "eservices": ["laskutus"],
                "organization": world["org_b"].pk,  # ignored: the organization is the URL's
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "new.person@example.fi"
    assert body["eservices"] == ["laskutus"]
    assert "token" not in body and "token_hash" not in body
    invitation = Invitation.objects.get(pk=body["id"])
    assert invitation.organization == org
    assert not Invitation.objects.filter(organization=world["org_b"], email=body["email"]).exists()
    assert [m.to for m in mail.outbox] == [["new.person@example.fi"]]


def test_invite_existing_member_is_refused_with_code(world, bearer):
    response = bearer(world["main_a"]).post(
        members_url(world["org_a"]), {"email": "member_a@example.fi"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "already_member"


def test_bulk_invitations_report_every_row(world, bearer):
    response = bearer(world["main_a"]).post(
        invitations_url(world["org_a"]),
        {
            "invitations": [
                {"email": "a1@example.fi"},
                {"email": "member_a@example.fi"},
                {"email": "not-an-email"},
                {"email": "a2@example.fi", "role": "main_user", "eservices": ["laskutus"]},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    statuses = [(r["email"], r["status"]) for r in response.json()["results"]]
    assert statuses == [
        ("a1@example.fi", "invited"),
        ("member_a@example.fi", "already_member"),
        ("not-an-email", "invalid"),
        ("a2@example.fi", "invited"),
    ]
    a2 = Invitation.objects.get(email="a2@example.fi")
    assert a2.role == "main_user" and [s.code for s in a2.services.all()] == ["laskutus"]


def test_change_role_and_services(world, bearer, eservices):
    target = membership(world["member_a"], world["org_a"])
    response = bearer(world["main_a"]).patch(
        members_url(world["org_a"], target.pk),
        {"role": "main_user", "eservices": ["laskutus", "seuranta"], "status": "removed"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    target.refresh_from_db()
    assert target.role == "main_user"
    assert target.status == "active"  # not settable here
    assert sorted(s.code for s in target.services.all()) == ["laskutus", "seuranta"]
    assert AuditEvent.objects.filter(
        action="membership.role_changed", target_user=target.user
    ).exists()


def test_last_main_user_cannot_be_demoted_or_removed(world, bearer):
    own = membership(world["main_a"], world["org_a"])
    client = bearer(world["main_a"])
    response = client.patch(members_url(world["org_a"], own.pk), {"role": "member"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "last_main_user"
    assert response.json()["error"]["message"] == str(org_services.MSG_LAST_MAIN_USER)
    response = client.delete(members_url(world["org_a"], own.pk))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "last_main_user"
    own.refresh_from_db()
    assert (own.role, own.status) == ("main_user", "active")


def test_role_and_services_change_together_or_not_at_all(world, bearer):
    target = membership(world["member_a"], world["org_a"])
    response = bearer(world["main_a"]).patch(
        members_url(world["org_a"], target.pk),
        {"role": "main_user", "eservices": ["no-such-service"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_service"
    target.refresh_from_db()
    assert target.role == "member"


def test_remove_member(world, bearer):
    target = membership(world["member_a"], world["org_a"])
    response = bearer(world["main_a"]).delete(members_url(world["org_a"], target.pk))
    assert response.status_code == 204
    target.refresh_from_db()
    assert target.status == Membership.Status.REMOVED
    assert not target.services.exists()


def test_invitations_list_revoke_and_resend(world, bearer):
    org = world["org_a"]
    client = bearer(world["main_a"])
    body = client.get(invitations_url(org)).json()
    assert [r["email"] for r in body["results"]] == ["invitee@1234567.fi"]
    invitation_id = body["results"][0]["id"]
    old_hash = Invitation.objects.get(pk=invitation_id).token_hash
    response = client.post(invitations_url(org, invitation_id, "resend"))
    assert response.status_code == 200
    assert Invitation.objects.get(pk=invitation_id).token_hash != old_hash
    assert client.delete(invitations_url(org, invitation_id)).status_code == 204
    assert Invitation.objects.get(pk=invitation_id).revoked_at is not None
    assert client.get(invitations_url(org)).json()["count"] == 0
    again = client.delete(invitations_url(org, invitation_id))
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invitation_revoked"


def test_validation_errors_use_the_error_format(world, bearer):
    response = bearer(world["main_a"]).post(
        invitations_url(world["org_a"]), {"invitations": []}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "invitations" in error["fields"]


@pytest.mark.parametrize("size", [5, 40])
def test_members_list_query_count_does_not_grow(world, bearer, size, django_assert_max_num_queries):
    org = world["org_a"]
    for _ in range(size):
        org_services.membership_create(
            organization=org, user=UserFactory(), services=["laskutus"], actor=None, notify=False
        )
    client = bearer(world["main_a"])
    with django_assert_max_num_queries(8):
        response = client.get(members_url(org) + "?page_size=50")
    assert response.status_code == 200
    assert len(response.json()["results"]) == size + 2


def test_pagination(world, bearer):
    org = world["org_a"]
    for _ in range(5):
        org_services.membership_create(
            organization=org, user=UserFactory(), actor=None, notify=False
        )
    body = bearer(world["main_a"]).get(members_url(org) + "?page_size=3&page=2").json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    assert body["previous"] and body["next"]


def test_throttled_requests_get_429_in_the_error_format(world, bearer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/min", "anon": "3/min"},
    }
    client = bearer(world["member_a"], ["profile"])
    codes = [client.get("/api/v1/me").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/me")
    assert response.json()["error"]["code"] == "throttled"
    assert "Retry-After" in response.headers


@pytest.mark.parametrize("size", [3, 30])
def test_invitations_list_query_count_does_not_grow(
    world, bearer, size, django_assert_max_num_queries
):
    org = world["org_a"]
    for n in range(size):
        org_services.membership_invite(
            organization=org, email=f"i{n}@example.fi", services=["laskutus"], actor=None
        )
    client = bearer(world["main_a"])
    with django_assert_max_num_queries(8):
        response = client.get(invitations_url(org) + "?page_size=50")
    assert response.status_code == 200
    assert len(response.json()["results"]) == size + 1


def test_search_with_nul_character_is_harmless(world, bearer):
    response = bearer(world["main_a"]).get(members_url(world["org_a"]) + "?search=ma%00in")
    assert response.status_code == 200
