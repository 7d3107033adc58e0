"""Forms of the authentication pages (login, 2FA, required actions)."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from allauth.account.forms import ChangePasswordForm as AllauthChangePasswordForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from .models import UserManager
from .validators import login_password_validate

MSG_LOGIN_WITH_EMAIL = _(
    "Log in with your email address. The old service-specific usernames no longer work. "
    "Use the email address to which you received the notice about the new login. If you "
    "are not sure which address it is, or have forgotten your password, use "
    "“Forgot your password?” to set a new one."
)
MSG_PASSWORDS_DIFFER = _("The two passwords do not match.")
MSG_WRONG_PASSWORD = _("Wrong password.")


class LoginForm(AllauthLoginForm):
    """allauth's login form, with a plain-text login field so that an old service username
    reaches the server and gets a helpful message (the same one for every non-email input,
    so it says nothing about whether such a username existed)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"] = forms.CharField(
            label=_("Email address"),
            max_length=254,
            widget=forms.TextInput(
                attrs={
                    "autocomplete": "email",
                    "inputmode": "email",
                    "autocapitalize": "none",
                    "spellcheck": "false",
                }
            ),
        )
        self.order_fields(["login", "password"])

    def clean_login(self) -> str:
        login = UserManager.normalize_email(self.cleaned_data.get("login"))
        try:
            validate_email(login)
        except ValidationError as exc:
            raise ValidationError(MSG_LOGIN_WITH_EMAIL, code="not_an_email") from exc
        return login

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        login_password_validate(password)
        return password


class ChangePasswordForm(AllauthChangePasswordForm):
    """allauth's password change, with the current password checked the way a login checks
    it: against the account's failed-login limit (login_failed per key and address), capped
    in length, padded in time and audited. allauth's own check (`user.check_password`) is
    limited only by change_password (5/m/user), a faster password oracle for a stolen
    session than the login page."""

    def clean_oldpassword(self) -> str:
        password = self.cleaned_data.get("oldpassword") or ""
        login_password_validate(password)
        adapter = get_adapter()
        if not adapter.reauthenticate(self.user, password):
            raise ValidationError(MSG_WRONG_PASSWORD, code="wrong_password")
        return password


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("The 6-digit code from your authenticator app, or one of your backup codes."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class TotpConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the app"),
        max_length=16,
        help_text=_("Enter the 6-digit code your authenticator app shows."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class NewPasswordForm(forms.Form):
    """Required action "set a new password": the user has just logged in."""

    password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("New password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, user, request=None, require_proof: bool = False, **kwargs) -> None:
        self.user = user
        self.request = request
        super().__init__(*args, **kwargs)
        if require_proof:
            # Rule (issue 12, finding 9): an old session proves who it is before the password
            # it rests on is replaced; right after a login, that login is the proof.
            self.fields["current_password"] = forms.CharField(
                label=_("Current password"),
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
                help_text=_(
                    "You logged in a while ago, so we ask for your current password first. "
                    "The password of one of your old e-services also works."
                ),
            )
            self.order_fields(["current_password", "password1", "password2"])

    def clean_current_password(self) -> str:
        password = self.cleaned_data.get("current_password") or ""
        login_password_validate(password)
        proved = get_adapter(self.request).authenticate(
            self.request, email=self.user.email, password=password
        )
        if proved is None or proved.pk != self.user.pk:
            raise ValidationError(MSG_WRONG_PASSWORD, code="wrong_password")
        return password

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", ValidationError(MSG_PASSWORDS_DIFFER, code="mismatch"))
        elif p1:
            if self.user.check_password(p1):
                self.add_error(
                    "password1",
                    ValidationError(
                        _("Choose a password different from your current one."), code="same"
                    ),
                )
            try:
                password_validation.validate_password(p1, self.user)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned
