"""Security headers and cookie flags on real responses with the production values
(ASVS 5.0 V3.4.x, V3.3.x, V3.5.1): the security settings of `config/settings/production.py` are
applied with override_settings (importing that module needs the whole production
environment), over the base settings every environment shares (CSP, nosniff, referrer)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

PRODUCTION = {
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "CSRF_COOKIE_HTTPONLY": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SESSION_COOKIE_NAME": "__Host-sessionid",
    "CSRF_COOKIE_NAME": "__Host-csrftoken",
}
HTTPS = {"HTTP_X_FORWARDED_PROTO": "https", "secure": True}


@override_settings(**PRODUCTION)
def test_headers_on_a_page(client):
    response = client.get(reverse("account_login"), **HTTPS)
    assert response.status_code == 200
    hsts = response["Strict-Transport-Security"]
    max_age = int(hsts.split("max-age=")[1].split(";")[0])
    assert max_age >= 31536000
    assert "includeSubDomains" in hsts
    csp = response["Content-Security-Policy"]
    assert "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] in {
        "same-origin",
        "strict-origin-when-cross-origin",
        "no-referrer",
    }


@override_settings(**PRODUCTION)
def test_plain_http_is_redirected_to_https(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


@override_settings(**PRODUCTION)
def test_session_and_csrf_cookie_flags(user, password):
    client = Client()
    page = client.get(reverse("account_login"), **HTTPS)
    csrf = page.cookies["__Host-csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax" and csrf["httponly"]
    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": password, "csrfmiddlewaretoken": csrf.value},
        **HTTPS,
    )
    assert response.status_code == 302
    session = response.cookies["__Host-sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert session["path"] == "/" and not session["domain"]


@override_settings(**PRODUCTION)
def test_post_without_csrf_token_is_refused(user, password):
    client = Client(enforce_csrf_checks=True)
    refused = client.post(
        reverse("account_login"), {"login": user.email, "password": password}, **HTTPS
    )
    assert refused.status_code == 403
    assert "_auth_user_id" not in client.session

    client.force_login(user)
    before = (user.first_name, user.last_name)
    response = client.post("/profile/", {"first_name": "Hyökkääjä", "last_name": "X"}, **HTTPS)
    assert response.status_code == 403
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == before
