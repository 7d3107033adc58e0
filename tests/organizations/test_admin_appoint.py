"""Staff see who could be appointed main user of an organization without one, and appoint
them with one click (through the membership service, audited)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from organizations import services
from organizations.models import Membership
from posti_accounts.models import AuditEvent
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)
    return client


@pytest.fixture
def orphan(make_user, staff):
    organization = OrganizationFactory(name="Orphan Oy")
    organization.people = [
        services.membership_create(organization=organization, user=make_user(), actor=staff)
        for _ in range(2)
    ]
    removed = services.membership_create(organization=organization, user=make_user(), actor=staff)
    services.membership_remove(membership=removed, actor=staff)
    organization.removed = removed
    return organization


def _url(organization):
    return reverse("admin:organizations_organization_appoint", args=[organization.pk])


def test_lists_active_members_as_candidates(admin_client, orphan):
    response = admin_client.get(_url(orphan))
    assert response.status_code == 200
    assert {m.pk for m in response.context["candidates"]} == {m.pk for m in orphan.people}
    body = response.content.decode()
    assert orphan.people[0].user.email in body
    assert orphan.removed.user.email not in body


def test_one_click_appoint(admin_client, orphan, staff):
    target = orphan.people[1]
    response = admin_client.post(_url(orphan), {"candidate": str(target.pk)})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.is_main_user
    event = AuditEvent.objects.get(action="membership.main_user_appointed", target_user=target.user)
    assert event.actor_id == staff.pk and event.organization_id == orphan.pk
    url = reverse("admin:organizations_organization_changelist")
    assert orphan not in admin_client.get(url, {"main_user": "none"}).context["cl"].result_list


@pytest.mark.parametrize("value", ["removed", "foreign", "junk", "99999999999999999999"])
def test_refuses_anyone_but_an_active_member(admin_client, orphan, org, value):
    candidate = {
        "removed": str(orphan.removed.pk),
        "foreign": str(Membership.objects.filter(organization=org).first().pk),
        "junk": "x\x00",
        "99999999999999999999": value,
    }[value]
    before = AuditEvent.objects.count()
    response = admin_client.post(_url(orphan), {"candidate": candidate})
    assert response.status_code == 200
    assert response.context["candidate_error"]
    assert AuditEvent.objects.count() == before
    assert not Membership.objects.filter(
        organization=orphan, role=Membership.Role.MAIN_USER
    ).exists()


def test_view_only_staff_cannot_appoint(client, orphan, staff, settings):
    from django.contrib.auth.models import Permission

    settings.ADMIN_REQUIRE_2FA = False
    staff.user_permissions.add(Permission.objects.get(codename="view_organization"))
    client.force_login(staff)
    response = client.post(_url(orphan), {"candidate": str(orphan.people[0].pk)})
    assert response.status_code == 403
    assert not Membership.objects.filter(
        organization=orphan, role=Membership.Role.MAIN_USER
    ).exists()


def test_changelist_links_to_appoint(admin_client, orphan):
    url = reverse("admin:organizations_organization_changelist")
    response = admin_client.get(url, {"main_user": "none"})
    assert _url(orphan) in response.content.decode()


def test_organization_page_links_to_its_rollout(admin_client, orphan):
    url = reverse("admin:organizations_organization_change", args=[orphan.pk])
    body = admin_client.get(url).content.decode()
    assert reverse("organizations:rollout", args=[orphan.pk]) in body
