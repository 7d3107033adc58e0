"""The operator's admin: the portal's header and title, and an index grouped by the rollout's
steps (People, Organizations, Migration, Campaigns, Single sign-on) instead of one box per
Django app. It is the default admin site (`config.apps.PortalAdminConfig`), so every app's
`admin.site.register` lands here."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# Group key -> (title, the apps whose models it shows, in this order).
GROUPS: list[tuple[str, object, tuple[str, ...]]] = [
    ("people", _("People"), ("posti_accounts", "account", "auth", "otp_totp", "otp_static")),
    ("organizations", _("Organizations"), ("organizations",)),
    ("migration", _("Migration"), ("migration",)),
    ("campaigns", _("Campaigns"), ("notifications",)),
    ("sso", _("Single sign-on"), ("sso", "oauth2_provider")),
    ("help", _("Help for people"), ("project",)),
]
OTHER = ("other", _("Other"))


class PortalAdminSite(admin.AdminSite):
    site_header = _("Posti e-services · administration")
    site_title = _("Posti e-services")
    index_title = _("The rollout, step by step")

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        if app_label:
            return app_list
        by_app = {app["app_label"]: app for app in app_list}
        index = reverse("admin:index", current_app=self.name)
        grouped = []
        placed: set[str] = set()
        for key, title, labels in GROUPS:
            models = []
            for label in labels:
                if label in by_app:
                    models.extend(by_app[label]["models"])
                    placed.add(label)
            if models:
                grouped.append(_group(key, title, models, index))
        rest = [m for app in app_list if app["app_label"] not in placed for m in app["models"]]
        if rest:
            grouped.append(_group(OTHER[0], OTHER[1], rest, index))
        return grouped


def _group(key: str, title, models: list[dict], index: str) -> dict:
    return {
        "name": title,
        "app_label": key,
        # An anchor on the index: the group is no Django app with a page of its own.
        "app_url": f"{index}#group-{key}",
        "has_module_perms": True,
        "models": models,
    }
