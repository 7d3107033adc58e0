"""Development (`make run`): SQLite, in-process tasks, console email unless env says otherwise."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=True)
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG

# OIDC: without OIDC_RSA_PRIVATE_KEY, generate a signing key on first run into var/
# (git-ignored) and reuse it, so ID tokens stay verifiable across restarts.
from sso.keys import dev_key_load_or_create  # noqa: E402

from .base import BASE_DIR, OAUTH2_PROVIDER  # noqa: E402

OIDC_RSA_PRIVATE_KEY = env("OIDC_RSA_PRIVATE_KEY", default="") or dev_key_load_or_create(
    BASE_DIR / "var" / "oidc_dev_key.pem"
)
OAUTH2_PROVIDER = {
    **OAUTH2_PROVIDER,
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    # Local e-services under development may redirect to http://localhost.
    "ALLOWED_REDIRECT_URI_SCHEMES": env.list(
        "OAUTH_REDIRECT_URI_SCHEMES", default=["https", "http"]
    ),
}
