"""Junk input to the OIDC endpoints (NUL characters, which PostgreSQL refuses in text; unknown
clients; malformed tokens) is answered with a 4xx, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NUL = "ab\x00cd"


@pytest.fixture
def logged_in(client):
    client.force_login(UserFactory())
    return client


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": NUL, "response_type": "code", "scope": "openid"},
        {"client_id": "x" * 500, "response_type": "code"},
        {"client_id": "unknown", "response_type": "code", "redirect_uri": NUL},
    ],
)
def test_authorize_junk_is_not_a_server_error(logged_in, params):
    response = logged_in.get("/o/authorize/", params)
    assert 400 <= response.status_code < 500, response.status_code


@pytest.mark.parametrize(
    "data",
    [
        {"grant_type": "authorization_code", "code": NUL, "client_id": NUL},
        {"grant_type": "refresh_token", "refresh_token": NUL, "client_id": "c"},
        {"grant_type": NUL},
    ],
)
def test_token_endpoint_junk(client, data):
    response = client.post("/o/token/", data)
    assert response.status_code == 400, response.status_code
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type"}


@pytest.mark.parametrize("credentials", [b"cl\x00ient:sec\x00ret", b"cl%00ient:secret"])
def test_token_endpoint_basic_auth_with_nul(client, credentials):
    import base64

    auth = base64.b64encode(credentials).decode()
    response = client.post(
        "/o/token/",
        {"grant_type": "authorization_code", "code": "x"},
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )
    assert 400 <= response.status_code < 500, response.status_code


@pytest.mark.parametrize("path", ["/o/userinfo/", "/api/v1/me"])
def test_bearer_token_with_nul(path):
    response = Client().get(path, HTTP_AUTHORIZATION="Bearer ab\x00cd")
    assert response.status_code == 401, response.status_code


@pytest.mark.parametrize("path", ["/o/revoke_token/", "/o/introspect/"])
def test_revoke_and_introspect_with_nul(client, path):
    response = client.post(path, {"token": NUL, "client_id": NUL})
    assert response.status_code < 500, response.status_code


def test_logout_with_junk_hint(logged_in):
    response = logged_in.get("/o/logout/", {"id_token_hint": NUL, "client_id": NUL})
    assert response.status_code < 500, response.status_code
