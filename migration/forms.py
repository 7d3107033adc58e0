"""Forms of the migration app's pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from organizations.selectors import eservices_active

from .models import SharedLoginHandover


def service_choices_active() -> list[tuple[str, str]]:
    return [(s.code, s.name) for s in eservices_active()]


class SharedLoginInviteForm(forms.Form):
    """The real persons behind one shared login: their addresses and e-services (the old
    service of the shared login checked by default)."""

    emails = forms.CharField(
        label=_("Email addresses of the persons (one per line)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10_000,
    )
    services = forms.MultipleChoiceField(
        label=_("E-services"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self,
        *args,
        handover: SharedLoginHandover,
        service_choices: list[tuple[str, str]] | None = None,
        **kwargs,
    ):
        # One form per shared login on the page: distinct ids, the same field names.
        kwargs.setdefault("auto_id", f"shared-{handover.pk}-%s")
        super().__init__(*args, **kwargs)
        self.handover = handover
        self.fields["services"].choices = (
            service_choices if service_choices is not None else service_choices_active()
        )
        self.fields["services"].initial = [handover.account.service.code]

    def email_list(self) -> list[str]:
        text = self.cleaned_data["emails"].replace(",", "\n").replace(";", "\n")
        return [line.strip() for line in text.splitlines() if line.strip()]
