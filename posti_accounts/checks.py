"""System checks of the accounts app. (The OIDC signing-key check lives in sso/checks.py.)

Production must state how many reverse proxies are in front of it (`TRUSTED_PROXY_COUNT`, 0
when clients connect directly): every per-IP limit and the audit trail's IP depend on it, and
neither "0 behind a proxy" (all clients share one address) nor a guess is safe. And a
`__Host-` cookie (production's session and CSRF cookies) must be set the way the browser
accepts it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

PRODUCTION_SETTINGS = "config.settings.production"


def _production() -> bool:
    return not settings.DEBUG and settings.SETTINGS_MODULE == PRODUCTION_SETTINGS


def _proxy_errors() -> list[Error]:
    if not _production():
        return []
    count = getattr(settings, "TRUSTED_PROXY_COUNT", None)
    if count is None:
        return [
            Error(
                "TRUSTED_PROXY_COUNT is not set: the portal cannot tell clients apart behind "
                "a proxy.",
                hint="Set TRUSTED_PROXY_COUNT to the number of reverse proxies in front of "
                "the portal (0 if clients connect to it directly).",
                id="posti_accounts.E001",
            )
        ]
    if not isinstance(count, int) or count < 0:
        return [
            Error(
                f"TRUSTED_PROXY_COUNT must be 0 or more, not {count!r}.",
                id="posti_accounts.E002",
            )
        ]
    consumers = {
        "ALLAUTH_TRUSTED_PROXY_COUNT": getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0),
        "REST_FRAMEWORK['NUM_PROXIES']": settings.REST_FRAMEWORK.get("NUM_PROXIES"),
    }
    wrong = sorted(name for name, value in consumers.items() if value != count)
    if wrong:
        return [
            Error(
                f"{', '.join(wrong)} must equal TRUSTED_PROXY_COUNT ({count}).",
                id="posti_accounts.E003",
            )
        ]
    return []


@register(Tags.security)
def trusted_proxy_count_check(app_configs, **kwargs) -> list[Error]:
    """Not deploy-only: `migrate`, `runserver` and `check` all refuse without it."""
    return _proxy_errors()


def refuse_to_start_without_proxy_count() -> None:
    """Application servers (gunicorn, Celery) do not run system checks, so production also
    refuses at startup."""
    errors = _proxy_errors()
    if errors:
        hint = f" {errors[0].hint}" if errors[0].hint else ""
        raise ImproperlyConfigured(f"{errors[0].msg}{hint}")


HOST_PREFIX = "__Host-"


@register(Tags.security)
def host_cookie_check(app_configs, **kwargs) -> list[Error]:
    """A `__Host-` cookie must be Secure, for Path=/ and without a Domain, or the browser
    silently drops it (no session, every form a CSRF failure)."""
    errors = []
    for kind in ("SESSION", "CSRF"):
        name = getattr(settings, f"{kind}_COOKIE_NAME")
        if not name.startswith(HOST_PREFIX):
            continue
        secure = getattr(settings, f"{kind}_COOKIE_SECURE")
        path = getattr(settings, f"{kind}_COOKIE_PATH")
        domain = getattr(settings, f"{kind}_COOKIE_DOMAIN")
        if not secure or path != "/" or domain:
            errors.append(
                Error(
                    f"{kind}_COOKIE_NAME {name!r} needs {kind}_COOKIE_SECURE = True, "
                    f"{kind}_COOKIE_PATH = '/' and no {kind}_COOKIE_DOMAIN.",
                    id="posti_accounts.E004",
                )
            )
    return errors
