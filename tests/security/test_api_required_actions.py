"""Finding 4: a browser session with pending required actions cannot use the API.

Rule: a session-authenticated API call is refused with 403 `required_actions_pending` while
`request.user.required_actions` is not empty, whatever the view; nothing changes. Bearer tokens
are gated when they are issued, so the rule is about sessions only. The API docs and schema
(no data) stay readable.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from config.api import HasRequiredScopes
from organizations import services as org_services
from organizations.models import Invitation
from posti_accounts.models import RequiredAction
from posti_accounts.services import user_required_action_complete, user_required_action_set
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def main_user():
    user = UserFactory(email="main@example.fi", password="x" * 16)
    org_services.organization_create(
        name="Alfa Oy", business_id="1234567-1", actor=None, main_user=user
    )
    return user


@pytest.fixture
def session(main_user):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(main_user)
    return client


def _org_id(user) -> int:
    return user.memberships.get().organization_id


@pytest.mark.parametrize(
    "action",
    [RequiredAction.UPDATE_PASSWORD, RequiredAction.VERIFY_EMAIL, RequiredAction.CHECK_DETAILS],
)
def test_session_with_pending_action_cannot_read_me(session, main_user, action):
    user_required_action_set(user=main_user, action=action)
    response = session.get("/api/v1/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "required_actions_pending"
    assert main_user.email not in response.content.decode()


def test_session_with_pending_action_cannot_invite(session, main_user):
    user_required_action_set(user=main_user, action=RequiredAction.UPDATE_PASSWORD)
    org_id = _org_id(main_user)
    response = session.post(
        f"/api/v1/organizations/{org_id}/invitations",
        {"invitations": [{"email": f"victim{i}@example.com"} for i in range(5)]},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "required_actions_pending"
    response = session.post(
        f"/api/v1/organizations/{org_id}/members", {"email": "one@example.com"}, format="json"
    )
    assert response.status_code == 403
    assert not Invitation.objects.filter(email__endswith="@example.com").exists()


def test_session_works_again_once_actions_are_done(session, main_user):
    user_required_action_set(user=main_user, action=RequiredAction.CHECK_DETAILS)
    assert session.get("/api/v1/me").status_code == 403
    user_required_action_complete(user=main_user, action=RequiredAction.CHECK_DETAILS)
    response = session.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == main_user.email


def test_api_docs_and_schema_stay_readable(session, main_user):
    user_required_action_set(user=main_user, action=RequiredAction.UPDATE_PASSWORD)
    assert session.get("/api/schema/").status_code == 200
    assert session.get("/api/docs/").status_code == 200


def _api_views(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _api_views(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "cls", None)
            if view is not None and (prefix + str(entry.pattern)).startswith("api/v1/"):
                yield prefix + str(entry.pattern), view


def test_every_api_view_applies_the_rule():
    """The check lives in the default permission: no API view may replace it."""
    views = list(_api_views(get_resolver().url_patterns))
    assert len(views) >= 7
    for route, view in views:
        assert any(isinstance(p, HasRequiredScopes) for p in view().get_permissions()), route


@pytest.mark.parametrize(
    ("language", "fragment"), [("fi", "Tee tilisi vaatimat toimet"), ("sv", "Slutför de åtgärder")]
)
def test_refusal_is_translated(session, main_user, language, fragment):
    main_user.preferred_language = language
    main_user.save(update_fields=["preferred_language"])
    user_required_action_set(user=main_user, action=RequiredAction.UPDATE_PASSWORD)
    assert fragment in session.get("/api/v1/me").json()["error"]["message"]
