"""Production: every secret comes from the environment with no default."""

from config.logging_config import logging_config

from .base import *  # noqa: F403
from .base import LOG_LEVEL, REST_FRAMEWORK, env

DEBUG = False
# One JSON object per line, for the log collector (LOG_JSON=false for readable lines).
LOG_JSON = env.bool("LOG_JSON", default=True)
LOGGING = logging_config(json_lines=LOG_JSON, level=LOG_LEVEL)
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Prometheus scrapes each process directly over the internal network (config/metrics.py).
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
ADMIN_REQUIRE_2FA = True

# Stated, never assumed: unset is None and refused at startup (posti_accounts/checks.py), since
# behind a proxy a wrong 0 makes every client share the proxy's address (one global login
# limit) and a wrong N believes addresses the client made up.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=None)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": TRUSTED_PROXY_COUNT}

# `__Host-` cookies: the browser keeps them only when Secure, for Path=/ and without a Domain,
# so no subdomain or plain-http page can plant or overwrite them (posti_accounts/checks.py
# refuses a combination the browser would drop).
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
SESSION_COOKIE_PATH = "/"
CSRF_COOKIE_PATH = "/"
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
