"""Schemathesis over `/api/schema/`: generated requests to every operation, as a main user
and as a plain member. No 5xx; status codes, content types and bodies conform to the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from organizations.models import Invitation
from tests.api.conftest import membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def wsgi_app():
    """The real WSGI app, minus closing DB connections at request end (which Django's test
    client skips too): the test's transaction must survive the requests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_schema_is_served_and_valid(client, wsgi_app):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    operations = [r.ok() for r in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert "PATCH /api/v1/organizations/{organization_id}/members/{membership_id}" in labels
    assert len(labels) >= 12


@pytest.mark.parametrize("actor", ["main_a", "member_a"])
def test_fuzz_api(world, make_token, wsgi_app, actor):
    user = world[actor]
    org = world["org_a"]
    real_ids = {
        "organization_id": org.pk,
        "membership_id": membership(world["member_a"], org).pk,
        "invitation_id": Invitation.objects.filter(organization=org).first().pk,
    }
    headers = {"Authorization": f"Bearer {make_token(user)}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    calls = {"n": 0, "2xx": 0}

    @given(case=schema.as_strategy())
    @settings(
        max_examples=20 * 14,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        # Half the generated ids point at real objects, so the rules themselves run too.
        for name, real in real_ids.items():
            value = (case.path_parameters or {}).get(name)
            if isinstance(value, int) and value % 2 == 0:
                case.path_parameters[name] = real
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        calls["n"] += 1
        calls["2xx"] += 200 <= response.status_code < 300

    run()
    assert calls["n"] >= 100
    assert calls["2xx"] > 0
