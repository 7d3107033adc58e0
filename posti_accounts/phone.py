"""Phone numbers are validated and stored in E.164 (+358401234567) with `phonenumbers`."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MSG_PHONE_INVALID = _("Enter a valid phone number, for example +358 40 123 4567 or 040 123 4567.")


def phone_normalize(value: str, *, default_region: str = "FI") -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(MSG_PHONE_INVALID, code="phone_invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(MSG_PHONE_INVALID, code="phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(value: str) -> str:
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
