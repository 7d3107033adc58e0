"""Two-factor authentication with django-otp: one TOTP device plus 10 single-use backup codes.

The TOTP secret and backup codes are shown only to their owner, once, and never written to
audit events or logs. A TOTP code is refused when used a second time (django-otp's `last_t`,
checked and advanced under a row lock) and wrong codes are throttled with an exponential delay
(django-otp's throttling on each device).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import segno
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import audit_event_record
from .errors import ApplicationError
from .models import User

BACKUP_CODE_COUNT = 10
DEVICE_NAME = "default"

MSG_CODE_INVALID = _("The code is not valid. Check the code and try again.")
MSG_THROTTLED = _("Too many wrong codes. Wait a moment before trying again.")
MSG_NO_SETUP = _("Start the two-factor authentication setup again.")
MSG_ALREADY_ENABLED = _("Two-factor authentication is already on.")

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
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


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
    if not device.verify_is_allowed()[0]:
        return [], "throttled"
    if not device.verify_token(code):
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
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def twofactor_remove(*, user: User, actor: User, request: HttpRequest | None = None) -> None:
    """Remove every OTP device of the user (views require re-authentication first)."""
    deleted = TOTPDevice.objects.filter(user=user).delete()[0]
    StaticDevice.objects.filter(user=user).delete()
    if deleted:
        audit_event_record(
            actor=actor, action="2fa.disabled", target_user=user, request=request, details={}
        )


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
    if any(not d.verify_is_allowed()[0] for d in devices):
        failure = "throttled"
    elif _TOTP_RE.match(code):
        if totp is not None and totp.verify_token(code):
            return totp, None
    elif static is not None and static.verify_token(code):
        audit_event_record(
            actor=user,
            action="2fa.backup_code_used",
            target_user=user,
            request=request,
            details={"remaining": static.token_set.count()},
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
