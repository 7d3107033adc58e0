"""Staff meeting the admin for the first time: log in, set up the required 2FA without typing
the password again, and land back in the admin."""

from __future__ import annotations

import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_forced_2fa_setup_right_after_login_then_back_to_the_admin(client, password):
    staff = UserFactory(password=password, is_staff=True, is_superuser=True)
    login = client.get(client.get("/admin/")["Location"])["Location"]
    response = client.post(login, {"login": staff.email, "password": password})
    assert response["Location"] == "/admin/"
    response = client.get("/admin/")
    setup_url = response["Location"]
    response = client.get(setup_url)
    assert response.status_code == 200, response.get("Location")  # no second password prompt
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    response = client.post(setup_url, {"code": f"{totp(device.bin_key):06d}"})
    codes_page = client.get(response["Location"]).content.decode()
    assert re.search(r'<a class="button" href="/admin/">', codes_page), codes_page
    assert client.get("/admin/").status_code == 200
