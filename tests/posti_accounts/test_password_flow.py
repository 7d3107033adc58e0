"""Password change and 2FA as people meet them: told why they were logged out, back on Omat
tiedot after logging in again, "wrong password" when it is wrong."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def _errors(response) -> list[str]:
    return re.findall(r"<li>(.*?)</li>", response.content.decode())


def test_password_change_says_why_and_returns_to_my_details(client, user, password):
    client.force_login(user)
    new = "uusi-hyvin-pitka-salasana-2026"
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": password, "password1": new, "password2": new},
        HTTP_ACCEPT_LANGUAGE="fi",
        follow=True,
    )
    assert response.redirect_chain[-1][0].startswith("/accounts/login/?next=/profile/")
    text = response.content.decode()
    assert "Salasanasi on vaihdettu" in text
    assert "kirjasimme sinut ulos" in text
    assert "Salasana vaihto onnistui" not in text
    response = client.post(
        response.redirect_chain[-1][0],
        {"login": user.email, "password": new},
        HTTP_ACCEPT_LANGUAGE="fi",
    )
    assert response.status_code == 302 and response["Location"] == "/profile/"


def test_wrong_current_password_says_wrong_password(client, user):
    client.force_login(user)
    new = "uusi-hyvin-pitka-salasana-2026"
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": "not-the-password-at-all", "password1": new, "password2": new},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "Väärä salasana." in _errors(response)
