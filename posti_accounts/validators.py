from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class MaximumLengthValidator:
    """Refuses absurdly long passwords (hashing cost); 128 characters and more stay accepted."""

    def __init__(self, max_length: int = 256):
        self.max_length = max_length

    def validate(self, password: str, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "This password is too long. It must contain at most %(max)d character.",
                    "This password is too long. It must contain at most %(max)d characters.",
                    self.max_length,
                ),
                code="password_too_long",
                params={"max": self.max_length},
            )

    def get_help_text(self) -> str:
        return _("Your password can be at most %(max)d characters long.") % {"max": self.max_length}


def password_max_length() -> int:
    """The one maximum password length: the `MaximumLengthValidator` option of
    AUTH_PASSWORD_VALIDATORS (also the cap of every password typed to log in)."""
    name = f"{MaximumLengthValidator.__module__}.{MaximumLengthValidator.__name__}"
    for entry in settings.AUTH_PASSWORD_VALIDATORS:
        if entry["NAME"] == name:
            return int(entry.get("OPTIONS", {}).get("max_length", 256))
    return 256


def login_password_validate(password: str) -> None:
    """A password typed to log in or re-authenticate is refused above the maximum length,
    with the same form error for every account (so it says nothing about the account)."""
    MaximumLengthValidator(password_max_length()).validate(password)
