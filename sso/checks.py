"""Configuration invariants of the OpenID Connect provider."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from .keys import rsa_private_key_problem

PRODUCTION_SETTINGS = "config.settings.production"


def _key_required() -> bool:
    return not settings.DEBUG and settings.SETTINGS_MODULE == PRODUCTION_SETTINGS


def _key_errors() -> list[Error]:
    if not _key_required():
        return []
    problem = rsa_private_key_problem(settings.OAUTH2_PROVIDER.get("OIDC_RSA_PRIVATE_KEY", ""))
    if problem is None:
        return []
    return [
        Error(
            f"OIDC_RSA_PRIVATE_KEY is {problem}: ID tokens cannot be signed.",
            hint="Generate one with `openssl genrsa 2048` and pass it in the environment.",
            id="sso.E001",
        )
    ]


@register(Tags.security)
def oidc_signing_key_check(app_configs, **kwargs) -> list[Error]:
    """Not deploy-only: `migrate`, `runserver` and `check` all refuse without a key."""
    return _key_errors()


def refuse_to_start_without_key() -> None:
    """Application servers (gunicorn, Celery) do not run system checks, so production also
    refuses at startup."""
    errors = _key_errors()
    if errors:
        raise ImproperlyConfigured(f"{errors[0].msg} {errors[0].hint}")
