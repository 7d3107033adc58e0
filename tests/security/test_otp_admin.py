"""2FA secrets in the admin and at rest (issue 12, finding 3).

Rules:
- No admin page shows a TOTP secret, its QR code or a backup code, to anyone, superusers
  included: django-otp's device admins are not registered, their URLs do not exist.
- Backup codes are stored only as salted keyed hashes (HMAC-SHA256), checked in constant time
  and deleted when used; no plaintext code is left in the database (existing plaintext codes
  are hashed by a migration).
- Staff instead have an audited "Reset two-factor authentication" action on users, which
  removes the devices and codes, ends the user's sessions and tells the user by email.
  Resetting a staff or superuser account needs a superuser; view-only staff cannot reset.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as global_apps
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from posti_accounts import twofactor
from posti_accounts.models import AuditEvent, UserSession
from tests.factories import UserFactory
from tests.security._admin_clients import admin_client, staff_user, totp_code, twofactor_enable

pytestmark = pytest.mark.django_db

REMOVED_SUBJECT = "Two-factor authentication was removed from your account"


def _all_stored_text() -> str:
    """Every value of every column of the 2FA tables, as text."""
    from posti_accounts.models import BackupCode

    chunks = []
    with connection.cursor() as cursor:
        for model in (TOTPDevice, StaticDevice, StaticToken, BackupCode):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
            chunks.extend(str(v) for row in cursor.fetchall() for v in row)
    return " ".join(chunks)


def test_otp_device_admins_are_not_registered():
    assert not admin.site.is_registered(TOTPDevice)
    assert not admin.site.is_registered(StaticDevice)
    assert not admin.site.is_registered(StaticToken)


def test_superuser_sees_no_secret_qr_or_backup_code(client, user):
    superuser = staff_user(superuser=True)
    admin_client(client, superuser)
    device, codes = twofactor_enable(user)
    secret = twofactor.totp_secret(device)
    static = StaticDevice.objects.get(user=user)
    urls = [
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        f"/admin/otp_totp/totpdevice/{device.pk}/config/",
        f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/",
        "/admin/otp_static/staticdevice/",
        f"/admin/otp_static/staticdevice/{static.pk}/change/",
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    index = client.get("/admin/").content.decode()
    assert "otp_totp" not in index and "otp_static" not in index
    page = client.get(reverse("admin:posti_accounts_user_change", args=[user.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert secret not in html and device.key not in html
    assert not any(code in html for code in codes)


def test_backup_codes_are_stored_hashed_only(user):
    from posti_accounts.models import BackupCode

    device, codes = twofactor_enable(user)
    assert len(codes) == twofactor.BACKUP_CODE_COUNT
    assert not StaticToken.objects.exists()
    assert BackupCode.objects.filter(device__user=user).count() == twofactor.BACKUP_CODE_COUNT
    stored = _all_stored_text()
    for code in codes:
        assert twofactor._normalize(code) not in stored.lower()
    assert twofactor.backup_codes_remaining(user=user) == twofactor.BACKUP_CODE_COUNT


def test_backup_code_is_deleted_when_used(user):
    _device, codes = twofactor_enable(user)
    matched = twofactor.twofactor_verify(user=user, code=codes[3])
    assert isinstance(matched, StaticDevice)
    assert twofactor.backup_codes_remaining(user=user) == twofactor.BACKUP_CODE_COUNT - 1
    with pytest.raises(twofactor.ApplicationError):
        twofactor.twofactor_verify(user=user, code=codes[3])
    # Backup codes of another user do not open this account.
    other = UserFactory()
    _d, other_codes = twofactor_enable(other)
    StaticDevice.objects.filter(user=user).update(throttling_failure_count=0)
    with pytest.raises(twofactor.ApplicationError):
        twofactor.twofactor_verify(user=user, code=other_codes[0])


def test_migration_hashes_existing_plaintext_codes(user):
    """Codes written in plaintext before this change keep working, as hashes only."""
    from posti_accounts.models import BackupCode

    twofactor_enable(user)
    BackupCode.objects.all().delete()
    static = StaticDevice.objects.get(user=user)
    StaticToken.objects.create(device=static, token="abcd2345")
    StaticToken.objects.create(device=static, token="efgh6777")
    migration = importlib.import_module("posti_accounts.migrations.0004_backupcode")
    migration.hash_plaintext_static_tokens(global_apps, None)
    assert not StaticToken.objects.exists()
    assert BackupCode.objects.filter(device=static).count() == 2
    assert "abcd2345" not in _all_stored_text()
    assert twofactor.twofactor_verify(user=user, code="ABCD-2345") == static


def test_reset_action_removes_2fa_ends_sessions_audits_and_emails(
    client, user, password, django_capture_on_commit_callbacks
):
    from posti_accounts.models import BackupCode

    user.preferred_language = "sv"
    user.save(update_fields=["preferred_language"])
    device, _codes = twofactor_enable(user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)  # next code unused
    elsewhere = Client()
    elsewhere.post(reverse("account_login"), {"login": user.email, "password": password})
    elsewhere.post(reverse("posti_accounts:twofactor_authenticate"), {"code": totp_code(device)})
    assert elsewhere.session["_auth_user_id"] == str(user.pk)
    key = elsewhere.session.session_key

    operator = staff_user(perms=("view_user", "change_user"))
    admin_client(client, operator)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:posti_accounts_user_changelist"),
            {"action": "twofactor_reset", "_selected_action": [user.pk]},
        )
    assert response.status_code == 302
    assert not twofactor.user_has_2fa(user)
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not BackupCode.objects.filter(device__user=user).exists()
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="2fa.reset", target_user=user)
    assert event.actor == operator
    assert AuditEvent.objects.filter(
        action="sessions.revoked", target_user=user, details__reason="2fa"
    ).exists()
    assert [m.to for m in mail.outbox] == [[user.email]]
    with translation.override("sv"):
        expected = gettext(REMOVED_SUBJECT)
    assert expected != REMOVED_SUBJECT  # a real Swedish translation exists
    assert mail.outbox[0].subject == expected


def test_reset_of_staff_2fa_needs_a_superuser(client):
    other_staff = staff_user(perms=("view_user",))
    twofactor_enable(other_staff)
    operator = staff_user(perms=("view_user", "change_user"))
    admin_client(client, operator)
    client.post(
        reverse("admin:posti_accounts_user_changelist"),
        {"action": "twofactor_reset", "_selected_action": [other_staff.pk]},
    )
    assert twofactor.user_has_2fa(other_staff)
    assert not AuditEvent.objects.filter(action="2fa.reset").exists()

    superuser = staff_user(superuser=True)
    su_client = admin_client(Client(), superuser)
    su_client.post(
        reverse("admin:posti_accounts_user_changelist"),
        {"action": "twofactor_reset", "_selected_action": [other_staff.pk]},
    )
    assert not twofactor.user_has_2fa(other_staff)
    assert AuditEvent.objects.get(action="2fa.reset").actor == superuser
