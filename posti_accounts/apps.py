from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostiAccountsConfig(AppConfig):
    name = "posti_accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from . import checks  # noqa: F401
        from .admin import otp_device_admins_unregister

        otp_device_admins_unregister()
