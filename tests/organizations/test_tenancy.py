"""DESIGN invariant 3: a main user of organization A gets 404 for every URL and verb naming
organization B or B's members and invitations, and nothing changes.

The test walks `organizations.urls` itself, so a route added later is covered without editing
this file: every pattern with an `<int:...>` argument is filled with B's ids."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, reverse

from organizations import services, urls
from organizations.models import EService, Invitation, Membership
from posti_accounts.models import AuditEvent

# Which of B's objects fills each URL argument. A new argument name fails the test below
# until it is added here (so it cannot silently go untested).
ARGUMENTS = {
    "organization_id": lambda b: b["organization"].pk,
    "membership_id": lambda b: b["membership"].pk,
    "invitation_id": lambda b: b["invitation"].pk,
}

# Every verb: a route that refuses one with 405 must not confirm that B exists either.
METHODS = ("get", "post", "put", "patch", "delete", "options")

POST_DATA = {
    "role": "member",
    "services": ["laskutus"],
    "step_down": "on",
    "emails": "victim@example.fi",
    "organization": "",
}


def _patterns(resolver=None, prefix=""):
    for entry in (resolver or urls).urlpatterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry


def _int_params(pattern: URLPattern) -> list[str]:
    converters = getattr(pattern.pattern, "converters", {})
    return [name for name, conv in converters.items() if conv.regex == "[0-9]+"]


def _snapshot(org_b):
    return (
        list(Membership.objects.filter(organization=org_b).order_by("pk").values()),
        list(Invitation.objects.filter(organization=org_b).order_by("pk").values()),
        list(Membership.services.through.objects.filter(membership__organization=org_b).values()),
        AuditEvent.objects.filter(organization=org_b).count(),
    )


@pytest.fixture
def tenancy(org, add_member, eservices, make_user):
    """A: `org` with its main user (the attacker). B: another organization with members."""
    from tests.factories import OrganizationFactory

    org_b = OrganizationFactory(name="Beta Oy")
    b_main = add_member(org_b, role=Membership.Role.MAIN_USER)
    b_member = add_member(org_b, services_=["laskutus"])
    invitation = services.membership_invite(
        organization=org_b, email="invited@example.fi", actor=b_main.user
    )
    return {
        "organization": org_b,
        "membership": b_member,
        "main_membership": b_main,
        "invitation": invitation,
    }


def test_every_organization_scoped_url_is_404_for_other_organizations_main_user(
    client, org, tenancy
):
    client.force_login(org.main_user)
    checked = []
    for pattern in _patterns():
        params = _int_params(pattern)
        if not params:
            continue
        unknown = set(params) - set(ARGUMENTS)
        assert not unknown, f"{pattern.name}: add {unknown} to ARGUMENTS"
        variants = [{p: ARGUMENTS[p](tenancy) for p in params}]
        if "membership_id" in params:  # B's main user too
            variants.append({**variants[0], "membership_id": tenancy["main_membership"].pk})
        for kwargs in variants:
            url = reverse(f"organizations:{pattern.name}", kwargs=kwargs)
            before = _snapshot(tenancy["organization"])
            for method in METHODS:
                response = getattr(client, method)(url, POST_DATA)
                assert response.status_code == 404, (method, url, response.status_code)
            assert _snapshot(tenancy["organization"]) == before, url
            checked.append(pattern.name)
    # The walk must actually have found the organization-scoped routes.
    assert {"detail", "member_remove", "invitation_revoke", "export", "audit"} <= set(checked)


def test_mixing_own_organization_with_foreign_member_ids_is_404(client, org, tenancy):
    """A's organization id with B's membership/invitation ids: still 404, nothing changes."""
    client.force_login(org.main_user)
    for pattern in _patterns():
        params = _int_params(pattern)
        if "membership_id" not in params and "invitation_id" not in params:
            continue
        kwargs = {p: ARGUMENTS[p](tenancy) for p in params}
        kwargs["organization_id"] = org.pk
        url = reverse(f"organizations:{pattern.name}", kwargs=kwargs)
        before = _snapshot(tenancy["organization"])
        for method in METHODS:
            response = getattr(client, method)(url, POST_DATA)
            # 405 only for a verb the route never accepts (own organization: no leak).
            assert response.status_code in (404, 405), (method, url)
        assert _snapshot(tenancy["organization"]) == before


def test_plain_member_of_b_cannot_use_main_user_routes(client, tenancy):
    member = tenancy["membership"]
    client.force_login(member.user)
    for pattern in _patterns():
        params = _int_params(pattern)
        if not params or pattern.name in ("detail", "leave"):
            continue  # a member sees their own membership and may leave
        url = reverse(
            f"organizations:{pattern.name}", kwargs={p: ARGUMENTS[p](tenancy) for p in params}
        )
        before = _snapshot(tenancy["organization"])
        for method in METHODS:
            response = getattr(client, method)(url, POST_DATA)
            assert response.status_code in (404, 405), (method, url)
        assert _snapshot(tenancy["organization"]) == before


def test_selectors_raise_404_for_foreign_ids(org, tenancy):
    from django.http import Http404

    from organizations import selectors

    b = tenancy["organization"]
    with pytest.raises(Http404):
        selectors.organization_get_for_main_user(user=org.main_user, organization_id=b.pk)
    with pytest.raises(Http404):
        selectors.membership_get_for_main_user(
            user=org.main_user, organization_id=org.pk, membership_id=tenancy["membership"].pk
        )
    with pytest.raises(Http404):
        selectors.invitation_get_for_main_user(
            user=org.main_user, organization_id=org.pk, invitation_id=tenancy["invitation"].pk
        )
    with pytest.raises(Http404):
        selectors.organization_get_for_main_user(user=org.main_user, organization_id="x")
    assert EService.objects.exists()
