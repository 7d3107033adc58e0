from __future__ import annotations

import copy

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError

from .models import Campaign
from .services import LANGS, campaign_defaults_fill, campaign_templates_validate


class NewPasswordForm(SetPasswordForm):
    """Django's validated new-password form; saving goes through the service instead.

    With `otp_required` (the account has two-factor authentication) it also asks for a code
    from the authenticator app or a backup code: the emailed link alone proves only access
    to the mailbox, and must not be enough to replace the password of a 2FA account."""

    otp_code = forms.CharField(
        label=_("Authentication code"),
        help_text=_("The code from your authenticator app, or one of your backup codes."),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, user, *args, otp_required: bool = False, **kwargs):
        super().__init__(user, *args, **kwargs)
        if not otp_required:
            del self.fields["otp_code"]

    def save(self, commit=True):  # pragma: no cover - the view calls the service
        raise NotImplementedError


# The campaign form's fields, grouped as the admin shows them: the one list of them (the
# admin builds its fieldsets from it, adding its read-only status and recipient count).
CAMPAIGN_FIELD_GROUPS: list[tuple[str | None, list[str]]] = [
    (None, ["name", "kind", "cutover_date"]),
    (
        "audience",
        [
            "audience_main_users_only",
            "audience_organizations",
            "audience_eservice",
            "audience_unverified_email",
            "audience_password_not_changed_since",
            "audience_details_not_confirmed",
            "audience_language",
            "audience_last_login_before",
            "audience_legacy_service",
            "audience_include_staff",
            "skip_done_since",
        ],
    ),
    ("sending", ["scheduled_at", "throttle_per_minute"]),
    ("fi", ["subject_fi", "body_fi"]),
    ("sv", ["subject_sv", "body_sv"]),
    ("en", ["subject_en", "body_en"]),
]
CAMPAIGN_FORM_FIELDS = [name for _group, names in CAMPAIGN_FIELD_GROUPS for name in names]


class CampaignAdminForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = CAMPAIGN_FORM_FIELDS

    def clean(self):
        cleaned = super().clean()
        # Validate the campaign as it will be saved: stored values, overridden by the form's,
        # empty texts filled with the kind's defaults (as save does).
        probe = copy.copy(self.instance) if self.instance.pk else Campaign()
        for name, value in cleaned.items():
            if name != "audience_organizations":
                setattr(probe, name, value)
        if not probe.kind:
            return cleaned
        campaign_defaults_fill(campaign=probe)
        try:
            campaign_templates_validate(campaign=probe)
        except ApplicationError as exc:
            field = "cutover_date" if exc.code == "cutover_required" else None
            if exc.code == "no_subject":
                field = next(
                    (f"subject_{lang}" for lang in LANGS if not getattr(probe, f"subject_{lang}")),
                    None,
                )
            self.add_error(field, exc.message)
        return cleaned


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("fi", _("Finnish")), ("sv", _("Swedish")), ("en", _("English"))],
    )


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        label=_("Start time"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
