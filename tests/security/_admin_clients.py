"""Admin clients for the security tests: staff (superuser or not) whose session has passed
2FA, as ADMIN_REQUIRE_2FA demands."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp

from posti_accounts import twofactor
from tests.factories import UserFactory


def totp_code(device, drift: int = 0) -> str:
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)
    return f"{value:06d}"


def twofactor_enable(user):
    """Turn 2FA on for `user` the way the setup page does; returns (device, backup codes)."""
    device = twofactor.totp_setup_start(user=user).device
    codes = twofactor.totp_setup_confirm(user=user, code=totp_code(device))
    device.refresh_from_db()
    return device, codes


def staff_user(*, superuser: bool = False, perms: tuple[str, ...] = (), **kwargs):
    staff = UserFactory(is_staff=True, is_superuser=superuser, **kwargs)
    for codename in perms:
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    return staff


def admin_client(client, staff):
    device, _codes = twofactor_enable(staff)
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
