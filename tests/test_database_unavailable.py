"""A lost database connection is a translated 503 (HTML, or JSON on the API), never a 500
with details; any other error is still the ordinary 500."""

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken(monkeypatch):
    def set_error(exc):
        def boom(*args, **kwargs):
            raise exc

        monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", boom)
        monkeypatch.setattr(
            "oauth2_provider.oauth2_validators.OAuth2Validator.validate_bearer_token", boom
        )

    return set_error


@pytest.mark.parametrize(
    "exc",
    [OperationalError("server closed the connection"), InterfaceError("connection already closed")],
)
def test_database_errors_are_a_translated_503(broken, exc):
    broken(exc)
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "x" * 32  # the session is loaded from the database
    response = client.get("/profile/", HTTP_ACCEPT_LANGUAGE="sv")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.content.decode()
    assert "Tjänsten är inte tillgänglig just nu" in body
    assert "closed" not in body and "Traceback" not in body
    response = Client(raise_request_exception=False).get(
        "/api/v1/me", HTTP_AUTHORIZATION="Bearer abc"
    )
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "closed" not in response.content.decode()


def test_other_errors_stay_a_500(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", boom)
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "x" * 32
    assert client.get("/profile/").status_code == 500
