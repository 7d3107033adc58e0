from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


class PostiAccountsConfig(AppConfig):
    name = "posti_accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from . import checks
        from .admin import otp_device_admins_unregister
        from .dbfunctions import sqlite_functions_install

        connection_created.connect(sqlite_functions_install, dispatch_uid="posti_sqlite_like")
        otp_device_admins_unregister()
        checks.refuse_to_start_without_proxy_count()
