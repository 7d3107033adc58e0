from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("Organizations")

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
        from posti_accounts.selectors import user_export_section_register

        from .selectors import memberships_export

        user_export_section_register(name="memberships", section=memberships_export)
