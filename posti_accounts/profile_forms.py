"""Forms of Omat tiedot (My details). Auth forms live in forms.py."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Language, User
from .phone import phone_display, phone_normalize


class DetailsForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "phone", "preferred_language"]
        widgets = {
            "first_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        }
        help_texts = {"phone": _("For example +358 40 123 4567.")}

    preferred_language = forms.ChoiceField(
        label=_("Language"),
        choices=Language.choices,
        help_text=_("Used for the portal and for the emails we send you."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.phone and not self.is_bound:
            self.initial["phone"] = phone_display(self.instance.phone)

    def clean_phone(self) -> str:
        return phone_normalize(self.cleaned_data.get("phone", ""))

    def clean_first_name(self) -> str:
        return self.cleaned_data["first_name"].strip()

    def clean_last_name(self) -> str:
        return self.cleaned_data["last_name"].strip()
