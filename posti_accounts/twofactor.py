"""Two-factor authentication with django-otp: one TOTP device plus 10 single-use backup codes.

The TOTP secret and backup codes are shown only to their owner, once, and never written to
audit events or logs. Backup codes are stored only as salted HMAC-SHA256 hashes (`BackupCode`,
attached to the user's django-otp StaticDevice, which holds no plaintext token). A TOTP code is
refused when used a second time (django-otp's `last_t`, checked and advanced under a row lock).
Wrong codes are throttled on each device with django-otp's counters, but with our own delay:
the first wrong code costs no wait (a typo followed by the right code must work), after that
the wait doubles (1 s, 2 s, 4 s ...).

Turning 2FA on or off, or a reset by staff, ends the user's other sessions and emails the user.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import segno
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login
from django_otp.models import MAX_THROTTLE_DELAY_SECONDS, ThrottlingMixin
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from kernel.errors import ApplicationError

from .audit import audit_event_record
from .emails import email_send
from .models import BackupCode, User
from .privileges import user_manage_allowed
from .sessions import user_sessions_end

BACKUP_CODE_COUNT = 10
BACKUP_CODE_BYTES = 10  # 80 random bits: 16 base32 characters, shown as four groups of four
BACKUP_CODE_KEY_SALT = "posti_accounts.twofactor.backup_code"  # frozen in migration 0004
DEVICE_NAME = "default"
# Where to go once a setup that something required (the admin's 2FA gate) is done.
SETUP_NEXT_SESSION_KEY = "_2fa_setup_next"
# Wrong codes that cost no wait before the next attempt (then the wait doubles each time).
FREE_FAILURES = 1

MSG_CODE_INVALID = _("The code is not valid. Check the code and try again.")
MSG_THROTTLED = _("Too many wrong codes. Wait a moment before trying again.")
MSG_NO_SETUP = _("Start the two-factor authentication setup again.")
MSG_ALREADY_ENABLED = _("Two-factor authentication is already on.")
MSG_RESET_NOT_ALLOWED = _(
    "Only a superuser can reset the two-factor authentication of a staff account."
)

_TOTP_RE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class TotpSetup:
    device: TOTPDevice
    secret: str  # base32, for typing into an authenticator app by hand
    qr_svg: str  # inline <svg> of the otpauth:// URL


def _normalize(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def user_has_2fa(user: User) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def verify_is_allowed(device: ThrottlingMixin, *, now: datetime | None = None) -> bool:
    """May the device check a code now? django-otp's own rule would make the very first wrong
    code wait 1 s, so a typo followed at once by the right code would be refused; here the
    first FREE_FAILURES wrong codes cost nothing and the wait doubles after that."""
    count = device.throttling_failure_count
    last = device.throttling_failure_timestamp
    factor = device.get_throttle_factor()
    if count <= FREE_FAILURES or last is None or factor <= 0:
        return True
    required = min(factor * 2 ** (count - FREE_FAILURES - 1), MAX_THROTTLE_DELAY_SECONDS)
    return ((now or timezone.now()) - last).total_seconds() >= required


def _totp_verify(device: TOTPDevice, code: str) -> bool:
    """django-otp's TOTPDevice.verify_token without its built-in throttle check (the caller
    has applied `verify_is_allowed`): accepts only a time step after `last_t`."""
    verified = False
    if code.isdigit():
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time()
        verified = totp.verify(int(code), device.tolerance, device.last_t + 1)
    if verified:
        device.last_t = totp.t()
        if getattr(settings, "OTP_TOTP_SYNC", True):
            device.drift = totp.drift
        device.throttle_reset(commit=False)
        device.set_last_used_timestamp(commit=False)
        device.save()
    else:
        device.throttle_increment(commit=True)
    return verified


def _backup_code_hash(code: str, salt: str, secret: str | None = None) -> str:
    value = f"{salt}:{code}"
    return salted_hmac(BACKUP_CODE_KEY_SALT, value, secret=secret, algorithm="sha256").hexdigest()


def _backup_code_verify(device: StaticDevice, code: str) -> bool:
    """Compare the code with every stored hash in constant time (old SECRET_KEYs included)
    and delete the one that matches. The caller holds the device's row lock."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    match = None
    for row in BackupCode.objects.filter(device=device).order_by("pk"):
        for key in keys:
            if hmac.compare_digest(row.code_hash, _backup_code_hash(code, row.salt, key)):
                match = match or row
    if match is None:
        device.throttle_increment(commit=True)
        return False
    match.delete()
    device.throttle_reset(commit=False)
    device.set_last_used_timestamp(commit=False)
    device.save()
    return True


def _backup_code_new() -> str:
    raw = base64.b32encode(secrets.token_bytes(BACKUP_CODE_BYTES)).decode("ascii").lower()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def totp_secret(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


def totp_setup_start(*, user: User) -> TotpSetup:
    """Create (or reuse) the user's unconfirmed TOTP device and return its QR code."""
    if user_has_2fa(user):
        raise ApplicationError(MSG_ALREADY_ENABLED, code="2fa_enabled")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    qr = segno.make(device.config_url, error="m")
    svg = qr.svg_inline(scale=5, dark="#000", light="#fff", omitsize=False)
    return TotpSetup(device=device, secret=totp_secret(device), qr_svg=svg)


def _backup_codes_replace(user: User) -> list[str]:
    """New backup codes (returned once, to be shown); only their hashes are stored."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    codes = [_backup_code_new() for _ in range(BACKUP_CODE_COUNT)]
    rows = []
    for code in codes:
        salt = secrets.token_hex(16)
        code_hash = _backup_code_hash(_normalize(code), salt)
        rows.append(BackupCode(device=device, salt=salt, code_hash=code_hash))
    BackupCode.objects.bulk_create(rows)
    return codes


def _notify_and_end_sessions(
    *, user: User, actor: User | None, request: HttpRequest | None, template: str
) -> None:
    """After a 2FA change: end the user's other sessions (all of them when staff did it)
    and tell the user by email, in their language, after the transaction commits."""
    own = request is not None and getattr(request, "user", None) == user
    user_sessions_end(user=user, actor=actor, request=request, keep_current=own, reason="2fa")
    email_send(
        to=user.email,
        template_prefix=f"posti_accounts/email/{template}",
        context={
            "user_name": user.display_name,
            "when": timezone.now(),
            "by_staff": actor is not None and actor != user,
            "security_url": settings.SITE_URL.rstrip("/") + reverse("posti_accounts:twofactor"),
        },
        language=user.preferred_language or "fi",
    )


def totp_setup_confirm(*, user: User, code: str, request: HttpRequest | None = None) -> list[str]:
    """Confirm the pending device with a code from the app; returns the new backup codes
    (to be shown once). Raises ApplicationError on a wrong or throttled code (after the
    failure counter has been saved)."""
    codes, failure = _setup_confirm_locked(user=user, code=_normalize(code), request=request)
    if failure == "no_setup":
        raise ApplicationError(MSG_NO_SETUP, code="2fa_no_setup")
    if failure == "throttled":
        raise ApplicationError(MSG_THROTTLED, code="2fa_throttled")
    if failure:
        raise ApplicationError(MSG_CODE_INVALID, code="2fa_invalid")
    return codes


@transaction.atomic
def _setup_confirm_locked(*, user: User, code: str, request: HttpRequest | None):
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("id")
        .first()
    )
    if device is None:
        return [], "no_setup"
    if not verify_is_allowed(device):
        return [], "throttled"
    if not _totp_verify(device, code):
        return [], "invalid"
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _backup_codes_replace(user)
    audit_event_record(
        actor=user, action="2fa.enabled", target_user=user, request=request, details={}
    )
    if request is not None and getattr(request, "user", None) == user:
        otp_login(request, device)
    _notify_and_end_sessions(user=user, actor=user, request=request, template="twofactor_enabled")
    return codes, None


@transaction.atomic
def backup_codes_regenerate(*, user: User, request: HttpRequest | None = None) -> list[str]:
    if not user_has_2fa(user):
        raise ApplicationError(MSG_NO_SETUP, code="2fa_no_setup")
    codes = _backup_codes_replace(user)
    audit_event_record(
        actor=user,
        action="2fa.backup_codes_regenerated",
        target_user=user,
        request=request,
        details={"count": len(codes)},
    )
    return codes


def backup_codes_remaining(*, user: User) -> int:
    return BackupCode.objects.filter(device__user=user, device__confirmed=True).count()


def _devices_delete(user: User) -> bool:
    """Delete every OTP device of the user (their backup codes go with them)."""
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    return confirmed


@transaction.atomic
def twofactor_remove(*, user: User, actor: User, request: HttpRequest | None = None) -> None:
    """Remove every OTP device of the user (views require re-authentication first), end the
    user's other sessions and email the user."""
    if _devices_delete(user):
        audit_event_record(
            actor=actor, action="2fa.disabled", target_user=user, request=request, details={}
        )
        _notify_and_end_sessions(
            user=user, actor=actor, request=request, template="twofactor_removed"
        )


@transaction.atomic
def twofactor_reset(*, user: User, actor: User, request: HttpRequest | None = None) -> bool:
    """Staff: remove a user's 2FA (lost phone and codes), so that they log in with their
    password and set it up again. Ends all of the user's sessions and emails the user.
    Returns whether the user had 2FA. Raises PermissionDenied unless the actor may change
    users and, for staff accounts, is a superuser."""
    if not actor.has_perm("posti_accounts.change_user"):
        raise PermissionDenied
    if not user_manage_allowed(actor=actor, user=user):
        raise PermissionDenied(MSG_RESET_NOT_ALLOWED)
    if not _devices_delete(user):
        return False
    audit_event_record(actor=actor, action="2fa.reset", target_user=user, request=request)
    _notify_and_end_sessions(user=user, actor=actor, request=request, template="twofactor_removed")
    return True


def twofactor_verify(*, user: User, code: str, request: HttpRequest | None = None):
    """Check a TOTP or backup code at login. Returns the device that matched.

    Raises ApplicationError (`2fa_throttled` or `2fa_invalid`) after the transaction has
    committed, so the failure counter and the audit event persist. Rows are locked so that
    two concurrent requests cannot both accept the same TOTP code or backup code.
    """
    device, failure = _verify_locked(user=user, code=_normalize(code), request=request)
    if device is not None:
        return device
    if failure == "throttled":
        raise ApplicationError(MSG_THROTTLED, code="2fa_throttled")
    raise ApplicationError(MSG_CODE_INVALID, code="2fa_invalid")


@transaction.atomic
def _verify_locked(*, user: User, code: str, request: HttpRequest | None):
    totp = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    static = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    devices = [d for d in (totp, static) if d is not None]
    failure = "invalid"
    if any(not verify_is_allowed(d) for d in devices):
        failure = "throttled"
    elif _TOTP_RE.match(code):
        if totp is not None and _totp_verify(totp, code):
            return totp, None
    elif static is not None and _backup_code_verify(static, code):
        audit_event_record(
            actor=user,
            action="2fa.backup_code_used",
            target_user=user,
            request=request,
            details={"remaining": static.backup_codes.count()},
        )
        return static, None
    audit_event_record(
        actor=None,
        action="2fa.failed",
        target_user=user,
        request=request,
        details={"reason": failure},
    )
    return None, failure
