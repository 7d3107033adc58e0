from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MigrationConfig(AppConfig):
    name = "migration"
    verbose_name = _("Legacy migration")

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
        from posti_accounts.selectors import user_export_section_register

        from .selectors import legacy_accounts_export

        user_export_section_register(name="legacy_accounts", section=legacy_accounts_export)
        from organizations.nav import organization_nav_tab_register

        from .selectors import shared_logins_open_exist

        organization_nav_tab_register(
            name="shared_logins",
            label=_("Shared logins"),
            url_name="migration:shared_logins",
            visible=shared_logins_open_exist,
        )
