from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostiAccountsConfig(AppConfig):
    name = "posti_accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from . import checks

        checks.refuse_to_start_without_proxy_count()
