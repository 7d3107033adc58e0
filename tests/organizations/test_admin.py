from __future__ import annotations

import pytest
from django.urls import reverse

from organizations import services
from organizations.models import Membership, Organization
from posti_accounts.models import AuditEvent
from tests.factories import OrganizationFactory


@pytest.fixture
def admin_client(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False  # the 2FA gate is tested by posti_accounts
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)
    return client


def test_search_by_name_and_business_id(admin_client, org):
    url = reverse("admin:organizations_organization_changelist")
    other = OrganizationFactory(name="Gamma Oy")
    by_name = admin_client.get(url, {"q": "alpha"})
    assert list(by_name.context["cl"].result_list) == [org]
    compact = org.business_id.replace("-", "")
    by_id = admin_client.get(url, {"q": compact})
    assert list(by_id.context["cl"].result_list) == [org]
    assert other not in by_id.context["cl"].result_list


def test_has_no_main_user_filter_and_appoint(admin_client, org, make_user, staff):
    orphan = OrganizationFactory(name="Orphan Oy")
    url = reverse("admin:organizations_organization_changelist")
    response = admin_client.get(url, {"main_user": "none"})
    assert list(response.context["cl"].result_list) == [orphan]
    response = admin_client.post(
        url, {"action": "appoint_main_user_action", "_selected_action": [orphan.pk]}
    )
    appoint_url = reverse("admin:organizations_organization_appoint", args=[orphan.pk])
    assert response["Location"] == appoint_url
    assert admin_client.get(appoint_url).status_code == 200
    response = admin_client.post(appoint_url, {"email": "nobody@example.fi"})
    assert response.status_code == 200 and response.context["form"].errors
    user = make_user("boss@example.fi")
    response = admin_client.post(appoint_url, {"email": "BOSS@example.fi"})
    assert response.status_code == 302
    membership = Membership.objects.get(organization=orphan, user=user)
    assert membership.is_main_user and membership.source == Membership.Source.ADMIN
    assert AuditEvent.objects.filter(
        action="membership.added", actor=staff, organization=orphan
    ).exists()
    response = admin_client.get(url, {"main_user": "none"})
    assert list(response.context["cl"].result_list) == []


def test_change_page_renders_with_inlines(admin_client, org, add_member, eservices):
    add_member(org, services_=["laskutus"])
    services.membership_invite(organization=org, email="inv@example.fi", actor=org.main_user)
    response = admin_client.get(reverse("admin:organizations_organization_change", args=[org.pk]))
    assert response.status_code == 200
    assert b"inv@example.fi" in response.content
    assert b"main@example.fi" in response.content


def _inline_post(org, memberships, *, extra_rows=()):
    data = {
        "name": org.name,
        "business_id": org.business_id,
        "is_active": "on",
        "memberships-TOTAL_FORMS": str(len(memberships) + len(extra_rows)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "invitations-TOTAL_FORMS": "0",
        "invitations-INITIAL_FORMS": "0",
        "invitations-MIN_NUM_FORMS": "0",
        "invitations-MAX_NUM_FORMS": "1000",
    }
    rows = [(m, {}) for m in memberships] + [(None, r) for r in extra_rows]
    for i, (m, override) in enumerate(rows):
        prefix = f"memberships-{i}-"
        if m is not None:
            data[prefix + "id"] = str(m.pk)
            data[prefix + "organization"] = str(org.pk)
            data[prefix + "user"] = str(m.user_id)
            data[prefix + "role"] = m.role
            data[prefix + "status"] = m.status
        for key, value in override.items():
            data[prefix + key] = value
    return data


def test_inline_changes_go_through_services(admin_client, org, add_member, make_user, staff):
    member = add_member(org)
    newcomer = make_user("newcomer@example.fi")
    main = Membership.objects.get(organization=org, user=org.main_user)
    url = reverse("admin:organizations_organization_change", args=[org.pk])
    data = _inline_post(
        org,
        [main, member],
        extra_rows=[{"user": str(newcomer.pk), "role": "member", "status": "active"}],
    )
    data["memberships-1-role"] = "main_user"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    member.refresh_from_db()
    assert member.role == "main_user"
    assert Membership.objects.filter(organization=org, user=newcomer).exists()
    assert AuditEvent.objects.filter(action="membership.role_changed", actor=staff).exists()
    assert AuditEvent.objects.filter(action="membership.added", target_user=newcomer).exists()


def test_inline_cannot_demote_last_main_user(admin_client, org):
    main = Membership.objects.get(organization=org, user=org.main_user)
    url = reverse("admin:organizations_organization_change", args=[org.pk])
    data = _inline_post(org, [main])
    data["memberships-0-role"] = "member"
    response = admin_client.post(url, data, follow=True)
    assert str(services.MSG_LAST_MAIN_USER) in response.content.decode()
    main.refresh_from_db()
    assert main.is_main_user


def test_add_organization_in_admin_normalizes_and_audits(admin_client, staff):
    url = reverse("admin:organizations_organization_add")
    data = _inline_post(Organization(name="Uusi Oy", business_id="01120389"), [])
    response = admin_client.post(url, data)
    assert response.status_code == 302
    org = Organization.objects.get(name="Uusi Oy")
    assert org.business_id == "0112038-9"
    assert AuditEvent.objects.filter(action="organization.created", organization=org).exists()
    bad = _inline_post(Organization(name="Huono Oy", business_id="0112038-8"), [])
    response = admin_client.post(url, bad)
    assert response.status_code == 200
    assert not Organization.objects.filter(name="Huono Oy").exists()


def test_admin_refuses_duplicate_business_id_in_other_form(admin_client, org):
    url = reverse("admin:organizations_organization_add")
    data = _inline_post(
        Organization(name="Kopio Oy", business_id=org.business_id.replace("-", "")), []
    )
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "business_id" in response.context["adminform"].form.errors


def test_inline_delete_removes_through_service(admin_client, org, add_member, staff):
    member = add_member(org)
    main = Membership.objects.get(organization=org, user=org.main_user)
    url = reverse("admin:organizations_organization_change", args=[org.pk])
    data = _inline_post(org, [main, member])
    data["memberships-1-DELETE"] = "on"
    assert admin_client.post(url, data).status_code == 302
    member.refresh_from_db()
    assert member.status == Membership.Status.REMOVED  # kept for the record, not deleted
    assert AuditEvent.objects.filter(action="membership.removed", actor=staff).exists()


def test_admin_search_with_nul_character_is_not_a_server_error(admin_client, org):
    for model in ("organization", "membership", "invitation", "eservice"):
        url = reverse(f"admin:organizations_{model}_changelist")
        response = admin_client.get(url, {"q": "Alpha\x00"})
        assert response.status_code == 200, model
    response = admin_client.get(
        reverse("admin:organizations_organization_changelist"), {"q": "Alp\x00ha"}
    )
    assert org.name in response.content.decode()


def test_appoint_needs_change_permission(client, org, make_user, settings):
    settings.ADMIN_REQUIRE_2FA = False
    clerk = make_user("clerk@posti.example", is_staff=True)  # staff, but no permissions
    client.force_login(clerk)
    url = reverse("admin:organizations_organization_appoint", args=[org.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"email": clerk.email}).status_code == 403
    assert not Membership.objects.filter(user=clerk).exists()


def test_inline_can_add_back_a_removed_member(admin_client, org, add_member, staff):
    member = add_member(org)
    services.membership_remove(membership=member, actor=staff)
    main = Membership.objects.get(organization=org, user=org.main_user)
    url = reverse("admin:organizations_organization_change", args=[org.pk])
    data = _inline_post(
        org, [main], extra_rows=[{"user": str(member.user_id), "role": "member", "status": ""}]
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    member.refresh_from_db()
    assert member.status == Membership.Status.ACTIVE
    assert Membership.objects.filter(organization=org, user=member.user).count() == 1
