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


def _code(device) -> str:
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _enable_2fa(user):
    from posti_accounts import twofactor

    device = twofactor.totp_setup_start(user=user).device
    codes = twofactor.totp_setup_confirm(user=user, code=_code(device))
    device.refresh_from_db()
    device.last_t -= 1  # the setup code was a step ago: the current code is fresh
    device.save(update_fields=["last_t"])
    return device, codes


def test_one_wrong_totp_code_then_the_right_one_at_once_logs_in(client, user, password):
    device, _codes = _enable_2fa(user)
    client.post("/accounts/login/", {"login": user.email, "password": password})
    url = "/profile/2fa/authenticate/"
    wrong = f"{(int(_code(device)) + 1) % 1_000_000:06d}"
    response = client.post(url, {"code": wrong})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    response = client.post(url, {"code": _code(device)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_one_wrong_code_then_the_right_one_at_setup(client, user, password):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from posti_accounts import twofactor

    client.post("/accounts/login/", {"login": user.email, "password": password})
    client.post("/accounts/reauthenticate/", {"password": password})
    client.get("/profile/security/2fa/setup/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = f"{(int(_code(device)) + 1) % 1_000_000:06d}"
    client.post("/profile/security/2fa/setup/", {"code": wrong})
    response = client.post("/profile/security/2fa/setup/", {"code": _code(device)})
    assert response.status_code == 302 and twofactor.user_has_2fa(user)


def test_backup_codes_can_be_downloaded_and_printed(client, user, password):
    from urllib.parse import unquote

    from posti_accounts.views.security import BACKUP_CODES_SESSION_KEY

    client.force_login(user)
    _device, _old = _enable_2fa(user)
    codes = ["aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh"]
    session = client.session
    session[BACKUP_CODES_SESSION_KEY] = codes
    session.save()
    html = client.get("/profile/security/2fa/backup-codes/").content.decode()
    link = re.search(r'<a [^>]*href="(data:text/plain[^"]+)"[^>]*download="([^"]+)"', html)
    assert link, html
    text = unquote(link.group(1).split(",", 1)[1])
    assert all(code in text for code in codes) and link.group(2).endswith(".txt")
    assert "data-print" in html  # a print button (static script; hidden without JavaScript)


def test_qr_code_has_a_text_alternative(client, user, password):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from posti_accounts import twofactor

    client.post("/accounts/login/", {"login": user.email, "password": password})
    client.post("/accounts/reauthenticate/", {"password": password})
    html = client.get("/profile/security/2fa/setup/").content.decode()
    secret = twofactor.totp_secret(TOTPDevice.objects.get(user=user, confirmed=False))
    qr = re.search(r'<div class="qr"([^>]*)>', html).group(1)
    assert 'role="img"' in qr and "aria-label=" in qr
    described = re.search(r'aria-describedby="([^"]+)"', qr).group(1)
    assert re.search(rf'id="{described}"[^>]*>.*?{secret}', html, re.S)
