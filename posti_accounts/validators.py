import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext


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


MSG_EMAIL_TOO_LONG = gettext_lazy("An email address can be at most 254 characters long.")
MSG_EMAIL_INVISIBLE = gettext_lazy("The email address contains invisible or control characters.")
MSG_EMAIL_MIXED_SCRIPT = gettext_lazy(
    "The email address mixes letters of different alphabets in one part, which is how "
    "look-alike addresses are made. Check the address."
)
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def _scripts(label: str) -> set[str]:
    found = set()
    for char in label:
        if char.isalpha():
            name = unicodedata.name(char, "")
            found.update(script for script in _SCRIPTS if name.startswith(script))
    return found


def email_address_validate(email: str) -> None:
    """Rules for an address a person gives as their login (sign-up, email change), beyond
    the syntax: at most 254 characters (the column), no control, format or unassigned
    characters (e.g. U+202E, which reverses how the address displays), and no part of the
    domain mixing Latin, Cyrillic or Greek letters (look-alike domains)."""
    if len(email) > 254:
        raise ValidationError(MSG_EMAIL_TOO_LONG, code="email_too_long")
    if any(unicodedata.category(char)[0] == "C" for char in email):
        raise ValidationError(MSG_EMAIL_INVISIBLE, code="email_invisible")
    domain = email.rpartition("@")[2]
    if any(len(_scripts(label)) > 1 for label in domain.split(".")):
        raise ValidationError(MSG_EMAIL_MIXED_SCRIPT, code="email_mixed_script")
