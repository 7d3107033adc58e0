"""The user's language: applied after login, remembered from the switcher."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_preferred_language_applied_after_login(client, user, password):
    user.preferred_language = "sv"
    user.save(update_fields=["preferred_language"])
    client.cookies["django_language"] = "fi"
    client.post(reverse("account_login"), {"login": user.email, "password": password})
    response = client.get(reverse("posti_accounts:sessions"))
    assert b'<html lang="sv">' in response.content
    assert response.cookies["django_language"].value == "sv"


def test_language_switch_is_remembered_for_logged_in_user(client, user, password):
    client.post(reverse("account_login"), {"login": user.email, "password": password})
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.preferred_language == "en"
    # Applied on the next page and after the next login, whatever the cookie says.
    assert b'<html lang="en">' in client.get("/").content
    client.post(reverse("account_logout"))
    fresh = client.__class__()
    fresh.cookies["django_language"] = "fi"
    fresh.post(reverse("account_login"), {"login": user.email, "password": password})
    assert b'<html lang="en">' in fresh.get("/").content


def test_language_switch_for_anonymous_uses_cookie(client):
    response = client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    assert response.cookies["django_language"].value == "sv"
    assert b'<html lang="sv">' in client.get("/").content


def test_invalid_language_is_ignored(client, user):
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    user.refresh_from_db()
    assert user.preferred_language == "fi"
