"""Finnish business ID (Y-tunnus): seven digits, a hyphen and a mod-11 check digit."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)
_RE = re.compile(r"^([0-9]{6,7})-?([0-9])$")

MSG_BUSINESS_ID_FORMAT = _("Enter a business ID in the form 1234567-8.")
MSG_BUSINESS_ID_CHECK = _("The check digit of this business ID is not valid.")


def business_id_normalize(value: str) -> str:
    """Return the canonical `1234567-8` form, or raise ValidationError."""
    raw = re.sub(r"\s", "", value or "")
    match = _RE.match(raw)
    if not match:
        raise ValidationError(MSG_BUSINESS_ID_FORMAT, code="business_id_format")
    body, check = match.group(1).zfill(7), int(match.group(2))
    remainder = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11
    if remainder == 1:
        raise ValidationError(MSG_BUSINESS_ID_CHECK, code="business_id_check")
    expected = 0 if remainder == 0 else 11 - remainder
    if expected != check:
        raise ValidationError(MSG_BUSINESS_ID_CHECK, code="business_id_check")
    return f"{body}-{check}"


def validate_business_id(value: str) -> None:
    business_id_normalize(value)
