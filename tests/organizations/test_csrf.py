"""Every write of the organization pages needs the CSRF token: the test walks every route of
`organizations.urls` (a route added later is covered too) and POSTs without the token as a
main user of the organization. Each is refused with 403 and nothing changes."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from organizations import services, urls
from organizations.models import Invitation, Membership
from posti_accounts.models import AuditEvent


def _snapshot():
    return (
        list(Membership.objects.order_by("pk").values()),
        list(Invitation.objects.order_by("pk").values()),
        list(Membership.services.through.objects.order_by("pk").values()),
        AuditEvent.objects.exclude(action="access.denied").count(),  # refusals are recorded,
    )


def test_every_post_without_csrf_token_is_403_and_changes_nothing(org, add_member, eservices):
    member = add_member(org, services_=["laskutus"])
    add_member(org, role=Membership.Role.MAIN_USER)  # so even leave/remove would be allowed
    invitation = services.membership_invite(
        organization=org, email="invited@example.fi", actor=org.main_user
    )
    invitee = services.membership_invite(
        organization=org, email=member.user.email.replace("@", "+x@"), actor=org.main_user
    )
    values = {
        "organization_id": org.pk,
        "membership_id": member.pk,
        "invitation_id": invitation.pk,
        "token": invitee.token,
    }
    data = {
        "role": "main_user",
        "services": ["seuranta"],
        "step_down": "on",
        "emails": "victim@example.fi",
        "organization": org.pk,
    }
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.main_user)
    checked = []
    for pattern in urls.urlpatterns:
        params = list(getattr(pattern.pattern, "converters", {}))
        unknown = set(params) - set(values)
        assert not unknown, f"{pattern.name}: add {unknown} to the values above"
        url = reverse(f"organizations:{pattern.name}", kwargs={p: values[p] for p in params})
        before = _snapshot()
        response = client.post(url, data)
        assert response.status_code in (403, 405), (url, response.status_code)
        assert _snapshot() == before, url
        if response.status_code == 403:
            checked.append(pattern.name)
    assert {
        "switch",
        "leave",
        "invite",
        "member_role",
        "member_remove",
        "invitation_revoke",
        "invitation_accept",
    } <= set(checked)
