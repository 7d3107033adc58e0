"""Tenancy on every API route, found by walking the URL resolver (a new route is tested
without anyone listing it): a main user of organization A gets 404 for organization B's ids,
for every method, and nothing changes."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, get_resolver, reverse

from organizations.models import Invitation, Membership
from posti_accounts.models import AuditEvent
from tests.api.conftest import membership

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "patch", "put", "delete"]
# Routes without an organization in the path serve only the caller's own data.
OWN_DATA_ROUTES = {"me", "me-organizations", "eservices", "not-found"}
BODIES = {
    "members": {"email": "someone@example.fi", "role": "main_user"},
    "member": {"role": "member", "eservices": []},
    "invitations": {"invitations": [{"email": "someone@example.fi"}]},
}


def api_routes() -> list[tuple[str, set[str]]]:
    """(url name, path parameters) of every route under the `api` namespace."""
    resolver = get_resolver()
    api = next(p for p in resolver.url_patterns if getattr(p, "namespace", None) == "api")
    routes = []
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern)
        routes.append((pattern.name, set(pattern.pattern.converters)))
    return routes


def snapshot():
    return (
        sorted(Membership.objects.values_list("pk", "role", "status")),
        sorted(
            (m.pk, c)
            for m in Membership.objects.prefetch_related("services")
            for c in m.services.values_list("code", flat=True)
        ),
        sorted(Invitation.objects.values_list("pk", "token_hash", "revoked_at", "expires_at")),
        AuditEvent.objects.exclude(action="access.denied").count(),  # refusals are recorded,
    )


def test_every_route_is_accounted_for():
    names = {name for name, _params in api_routes()}
    scoped = {name for name, params in api_routes() if "organization_id" in params}
    assert scoped, "the walker found no organization routes"
    assert names - scoped == OWN_DATA_ROUTES, "a new route needs a tenancy decision here"


@pytest.mark.parametrize(
    "route",
    [name for name, params in api_routes() if "organization_id" in params],
)
@pytest.mark.parametrize("actor", ["main_a", "member_b"])
def test_foreign_ids_are_404_and_change_nothing(world, bearer, route, actor):
    """`main_a` manages A but not B; `member_b` belongs to B but manages nothing."""
    org_b = world["org_b"]
    foreign = {
        "organization_id": org_b.pk,
        "membership_id": membership(world["member_b"], org_b).pk,
        "invitation_id": Invitation.objects.get(organization=org_b).pk,
    }
    own_org_foreign_object = {**foreign, "organization_id": world["org_a"].pk}
    params = dict(api_routes())[route]
    client = bearer(world[actor])
    before = snapshot()
    cases = [foreign]
    if params != {"organization_id"} or actor != "main_a":
        # A's object routes with B's object ids; and A's own lists, which only main_a may use.
        cases.append(own_org_foreign_object)
    for ids in cases:
        url = reverse(f"api:{route}", kwargs={k: v for k, v in ids.items() if k in params})
        for method in METHODS:
            response = getattr(client, method)(url, BODIES.get(route, {}), format="json")
            if response.status_code == 405:
                continue  # the route does not have this method
            assert response.status_code == 404, (method, url, response.status_code)
            assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before


def test_walker_covers_all_methods_of_the_member_route(world, bearer):
    """A guard on the walk above: the member route answers these methods for its own org."""
    own = membership(world["member_a"], world["org_a"])
    url = reverse(
        "api:member", kwargs={"organization_id": world["org_a"].pk, "membership_id": own.pk}
    )
    client = bearer(world["main_a"])
    assert client.get(url).status_code == 200
    assert client.put(url, {}, format="json").status_code == 405
    assert client.patch(url, {"eservices": []}, format="json").status_code == 200
