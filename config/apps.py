from django.apps import AppConfig, apps
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _

# Third-party apps named the way our users know them (their own names are English literals).
THIRD_PARTY_APP_NAMES = {
    "oauth2_provider": _("Single sign-on tokens and clients"),
    "otp_totp": _("Authenticator apps"),
    "otp_static": _("Backup codes"),
}

# django-oauth-toolkit's models have no verbose names of their own (Django derives English ones
# from the class names, which no catalog can translate): (singular, plural) per model.
THIRD_PARTY_MODEL_NAMES = {
    ("oauth2_provider", "Application"): (_("application"), _("applications")),
    ("oauth2_provider", "AccessToken"): (_("access token"), _("access tokens")),
    ("oauth2_provider", "RefreshToken"): (_("refresh token"), _("refresh tokens")),
    ("oauth2_provider", "Grant"): (_("grant"), _("grants")),
    ("oauth2_provider", "IDToken"): (_("id token"), _("id tokens")),
}


class ProjectConfig(AppConfig):
    """The top floor as an app: the rollout dashboard, the help texts, and the commands that
    span every app (seed_demo)."""

    name = "config"
    label = "project"
    verbose_name = _("Rollout and help")

    def ready(self) -> None:
        from config import metrics

        metrics.receivers_connect()
        labels = {config.label for config in apps.get_app_configs()}
        for label, name in THIRD_PARTY_APP_NAMES.items():
            if label in labels:
                apps.get_app_config(label).verbose_name = name
        for (label, model_name), (singular, plural) in THIRD_PARTY_MODEL_NAMES.items():
            if label in labels:
                opts = apps.get_model(label, model_name)._meta
                opts.verbose_name, opts.verbose_name_plural = singular, plural


class PortalAdminConfig(AdminConfig):
    default_site = "config.admin_site.PortalAdminSite"
