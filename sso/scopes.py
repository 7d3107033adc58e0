"""Scope descriptions for the consent page, translated (settings hold the scope names)."""

from django.utils.translation import gettext_lazy as _
from oauth2_provider.scopes import SettingsScopes

SCOPE_DESCRIPTIONS = {
    "openid": _("Sign you in with your Posti e-services login"),
    "profile": _("Your name, phone number and language"),
    "email": _("Your email address"),
    "organizations": _("The organizations you act for, your roles and e-services"),
    "organizations:manage": _("Manage the members and invitations of your organizations"),
}


class TranslatedScopes(SettingsScopes):
    def get_all_scopes(self):
        return {
            name: SCOPE_DESCRIPTIONS.get(name, description)
            for name, description in super().get_all_scopes().items()
        }
