from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError

from .invitation_parsing import InviteRow, csv_bytes_decode, invite_rows_parse
from .models import EService, Membership
from .rollout_selectors import ROLLOUT_FILTERS
from .services import BULK_INVITE_MAX_ROWS

MAX_CSV_BYTES = 512 * 1024
MSG_CSV_TOO_BIG = _("The file is too large (at most 512 kB).")
MSG_CSV_ENCODING = _(
    "The file must be a CSV text file (UTF-8, or Windows-1252 as Excel saves it), not a "
    "spreadsheet. In Excel choose Save as → CSV."
)

AUDIT_ACTIONS = [
    ("", _("All actions")),
    ("organization.created", _("Organization created")),
    ("membership.added", _("Member added")),
    ("membership.activated", _("Membership activated")),
    ("membership.role_changed", _("Role changed")),
    ("membership.handover", _("Main user role handed over")),
    ("membership.main_user_appointed", _("Main user appointed")),
    ("membership.services_changed", _("E-services changed")),
    ("membership.removed", _("Member removed")),
    ("membership.left", _("Member left")),
    ("invitation.created", _("Invitation sent")),
    ("invitation.resent", _("Invitation resent")),
    ("invitation.revoked", _("Invitation cancelled")),
    ("invitation.accepted", _("Invitation accepted")),
]


def _service_choices() -> list[tuple[str, str]]:
    return [(s.code, s.name) for s in EService.objects.filter(is_active=True).order_by("code")]


class MemberFilterForm(forms.Form):
    q = forms.CharField(label=_("Search by name or email"), required=False, max_length=100)
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=[("", _("All roles")), *Membership.Role.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Active and pending")), *Membership.Status.choices],
    )
    service = forms.ChoiceField(label=_("E-service"), required=False, choices=[])

    def __init__(self, *args, services: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [("", _("All e-services")), *services]

    def filters(self) -> dict[str, str]:
        """The valid filters; an invalid one (unknown role or e-service, a NUL character) is
        left out and shown as a field error, the others still apply."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        return {
            "search": data.get("q") or "",
            "role": data.get("role") or "",
            "status": data.get("status") or "",
            "service": data.get("service") or "",
        }


class InviteForm(forms.Form):
    emails = forms.CharField(
        label=_("Email addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "One or more addresses, or CSV lines: email, role, services (separated by semicolons)."
        ),
    )
    csv_file = forms.FileField(
        label=_("Or upload a CSV file"),
        required=False,
        help_text=_(
            "Columns: email, role (main_user or member), services (codes listed below, "
            "separated by spaces or semicolons). Comma or semicolon separated; UTF-8 or the "
            "Windows-1252 Excel saves. At most 1,000 rows."
        ),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        help_text=_("Used for addresses that do not give a role."),
    )
    services = forms.MultipleChoiceField(
        label=_("E-services"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Granted to addresses that do not list services."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].choices = _service_choices()

    def clean_csv_file(self):
        upload = self.cleaned_data.get("csv_file")
        if not upload:
            return ""
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(MSG_CSV_TOO_BIG, code="too_big")
        text = csv_bytes_decode(upload.read())
        if text is None:  # a binary file (e.g. UTF-16 or a spreadsheet), not CSV text
            raise forms.ValidationError(MSG_CSV_ENCODING, code="encoding")
        return text

    def clean(self):
        data = super().clean()
        text = "\n".join(t for t in (data.get("emails"), data.get("csv_file")) if t)
        try:
            rows = invite_rows_parse(text)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        if not rows and not self.errors:
            raise forms.ValidationError(_("Enter at least one email address."), code="no_rows")
        if len(rows) > BULK_INVITE_MAX_ROWS:
            raise forms.ValidationError(
                _("At most %(max)d addresses can be invited at once.")
                % {"max": BULK_INVITE_MAX_ROWS},
                code="too_many_rows",
            )
        default_role = data.get("role") or Membership.Role.MEMBER
        default_services = tuple(data.get("services") or ())
        data["rows"] = [
            InviteRow(
                email=r.email,
                role=r.role or default_role,
                services=tuple(r.services) or default_services,
                line=r.line,
            )
            for r in rows
        ]
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class ServicesForm(forms.Form):
    services = forms.MultipleChoiceField(
        label=_("E-services"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].choices = _service_choices()


class HandoverForm(forms.Form):
    step_down = forms.BooleanField(
        label=_("At the same time, give up my own main user role"), required=False
    )


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False, choices=AUDIT_ACTIONS)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def filters(self) -> dict:
        if not self.is_bound:
            return {}
        self.is_valid()  # invalid fields are left out of cleaned_data
        return {
            "action": self.cleaned_data.get("action") or "",
            "date_from": self.cleaned_data.get("date_from"),
            "date_to": self.cleaned_data.get("date_to"),
        }


class RolloutFilterForm(forms.Form):
    q = forms.CharField(label=_("Search by name or email"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Show"), required=False, choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All members")), *ROLLOUT_FILTERS.items()]

    def filters(self) -> dict[str, str]:
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        return {"search": data.get("q") or "", "status": data.get("status") or ""}
