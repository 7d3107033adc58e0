from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def oidc_key_present(app_configs, **kwargs):
    """Production refuses to run without a signing key for OIDC ID tokens."""
    if settings.DEBUG:
        return []
    key = getattr(settings, "OIDC_RSA_PRIVATE_KEY", "")
    if not key or "PRIVATE KEY" not in key:
        return [
            Error(
                "OIDC_RSA_PRIVATE_KEY is not set to a PEM RSA private key.",
                hint="Generate one with `openssl genrsa 2048` and pass it in the environment.",
                id="posti_accounts.E001",
            )
        ]
    return []
