"""Settings shared by every environment. One `env`, read from the environment (and .env)."""

import re
from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from config.logging_config import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.PortalAdminConfig",  # django.contrib.admin with the operator's admin site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",  # the built-in widget templates, for FORM_RENDERER below
    # Project apps come before allauth so their templates override allauth's.
    "posti_accounts",
    "organizations",
    "notifications",
    "migration",
    "sso",
    "config.apps.ProjectConfig",  # the top floor: dashboard, help texts, seed_demo
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files (CSP 'self')
    "oauth2_provider",
    "csp",
    "django_prometheus",
    "anymail",
]

MIDDLEWARE = [
    # First: every line logged while a request is served carries its id (config/request_id.py).
    "config.request_id.RequestIdMiddleware",
    # /healthz and /readyz, answered before everything else but the request id (config/health.py).
    "config.health.HealthProbeMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "posti_accounts.middleware.SessionTimeoutMiddleware",
    "posti_accounts.middleware.UserLanguageMiddleware",
    "posti_accounts.middleware.RequiredActionsMiddleware",
    "posti_accounts.middleware.AccessDeniedAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "organizations.context_processors.organizations",
            ],
        },
    },
]
# Widgets render through the project's template engine, so templates/ can override a widget
# template of Django's admin (templates/admin/widgets/split_datetime.html labels both inputs).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Redis ------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Degrades to no cache while Redis is unreachable (config/cache.py).
            "BACKEND": "config.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tunnus",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
# Without REDIS_URL tasks run eagerly in-process, so `make run` needs no broker.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Europe/Helsinki"
# Workers log through LOGGING (JSON in production, with the request id), not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {
    # Drop tracking rows of sessions that have timed out (posti_accounts.UserSession).
    "user-sessions-prune": {
        "task": "posti_accounts.tasks.user_sessions_prune",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3600},
    },
    # The rollout dashboard's figures (config.dashboard): today's snapshot row, refreshed.
    "rollout-snapshot-take": {
        "task": "config.tasks.rollout_snapshot_take",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3600},
    },
    # Queue again emails the broker lost or never got (posti_accounts.OutboundEmail).
    "outbound-emails-sweep": {
        "task": "posti_accounts.tasks.outbound_emails_sweep",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 300},
    },
}

# Heartbeats (config/worker_health.py): beat schedules one task every HEALTH_HEARTBEAT_SECONDS;
# the campaign admin pages warn when the scheduler or the workers are silent for longer.
HEALTH_HEARTBEAT_SECONDS = env.int("HEALTH_HEARTBEAT_SECONDS", default=60)
HEALTH_SCHEDULER_STALE_SECONDS = env.int("HEALTH_SCHEDULER_STALE_SECONDS", default=180)
HEALTH_WORKER_STALE_SECONDS = env.int("HEALTH_WORKER_STALE_SECONDS", default=180)
CELERY_BEAT_SCHEDULE["health-heartbeat"] = {
    "task": "config.tasks.health_heartbeat",
    "schedule": timedelta(seconds=HEALTH_HEARTBEAT_SECONDS),
    "options": {"expires": HEALTH_HEARTBEAT_SECONDS},
}

# --- Email ----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Posti <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The one base of every link in an email (campaigns, invitations, verification, reset). In
# development it follows the port the server runs on (`PORT=8741 make run`).
SITE_URL = env("SITE_URL", default=f"http://127.0.0.1:{env('PORT', default='8000')}").rstrip("/")
# Sending through an email provider (django-anymail) instead of SMTP: ANYMAIL_ESP names it
# (mailgun, postmark or sendgrid) and ANYMAIL_API_KEY is its key. Its tracking
# webhook (bounces, complaints) is /n/webhooks/<esp>/tracking/, behind HTTP basic auth
# ANYMAIL_WEBHOOK_SECRET ("user:password") and the provider's signature where it signs
# (Mailgun: ANYMAIL_WEBHOOK_SIGNING_KEY).
ANYMAIL_ESP = env("ANYMAIL_ESP", default="")
ANYMAIL = {"WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", default="")}
_ANYMAIL_KEY = env("ANYMAIL_API_KEY", default="")
_ANYMAIL_SIGNING_KEY = env("ANYMAIL_WEBHOOK_SIGNING_KEY", default="")
if ANYMAIL_ESP == "mailgun":
    ANYMAIL.update(MAILGUN_API_KEY=_ANYMAIL_KEY, MAILGUN_WEBHOOK_SIGNING_KEY=_ANYMAIL_SIGNING_KEY)
    ANYMAIL["MAILGUN_API_URL"] = env("ANYMAIL_API_URL", default="https://api.eu.mailgun.net/v3")
elif ANYMAIL_ESP == "postmark":
    ANYMAIL["POSTMARK_SERVER_TOKEN"] = _ANYMAIL_KEY
elif ANYMAIL_ESP == "sendgrid":
    ANYMAIL["SENDGRID_API_KEY"] = _ANYMAIL_KEY
if ANYMAIL_ESP:
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_ESP}.EmailBackend"
# The outbox (posti_accounts.emails): an unsent row last queued this long ago is queued again
# (longer than the task's longest retry backoff, so a row waiting for its retry is left alone),
# a row claimed this long ago belongs to a dead worker, after this many attempts a row is
# failed, and sent/failed rows (bodies already blanked) are deleted after this many days.
OUTBOUND_EMAIL_SWEEP_AFTER_SECONDS = 15 * 60
OUTBOUND_EMAIL_CLAIM_TIMEOUT_SECONDS = 10 * 60
OUTBOUND_EMAIL_MAX_ATTEMPTS = 8
OUTBOUND_EMAIL_RETENTION_DAYS = 30

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "posti_accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    # Merged legacy users: email + any old password until they set a new one (issue: migration).
    "migration.backends.LegacyPasswordBackend",
]
# Every failed login (unknown address, wrong password, any legacy hash scheme) takes this long
# (or a whole multiple of it), so its timing tells nothing about the account. Above the
# costliest single verification path: a bcrypt-12 legacy hash and the dummy hashes take about
# 0.5 s on a two-core machine.
LOGIN_FAILURE_MIN_SECONDS = env.float("LOGIN_FAILURE_MIN_SECONDS", default=0.8)
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/profile/"
LOGOUT_REDIRECT_URL = "/"

PASSWORD_HASHERS = [
    "posti_accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "posti_accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 256}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# allauth: email is the only identifier, verification is mandatory.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_ADAPTER = "posti_accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "posti_accounts.forms.LoginForm",
    "change_password": "posti_accounts.forms.ChangePasswordForm",
}
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = True
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
# How many reverse proxies stand in front of the portal, each appending the address it saw to
# X-Forwarded-For (0: clients connect directly, the header is never believed). The one count
# for allauth's per-IP login limits, DRF's throttles (NUM_PROXIES below) and the audit trail's
# client IP. Production must state it (posti_accounts/checks.py).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# Staff must have a confirmed 2FA device to use the Django admin.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=True)
# The name authenticator apps show next to the code: the same in every language.
OTP_TOTP_ISSUER = "Posti"
# Wrong 2FA codes: the first costs no wait, then each failure doubles the wait before the next
# attempt (1 s, 2 s, 4 s ...; posti_accounts.twofactor.verify_is_allowed).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# The device admins are unregistered; should one come back, it still shows no key or token.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Sessions -------------------------------------------------------------------------------
# Database sessions, with fewer round trips at login (posti_accounts/session_store.py).
SESSION_ENGINE = "posti_accounts.session_store"
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT", default=12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Internationalization -------------------------------------------------------------------
LANGUAGE_CODE = "fi"
LANGUAGES = [("fi", _("Finnish")), ("sv", _("Swedish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Helsinki"
USE_I18N = True
USE_TZ = True
# Our English date formats (config/formats/en); Finnish and Swedish keep Django's.
FORMAT_MODULE_PATH = ["config.formats"]

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security headers -----------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Logging: never log secrets (see posti_accounts.log_redaction) ---------------------------
# JSON lines with LOG_JSON (production's default), readable lines otherwise; every line has
# the request id (config/logging_config.py, config/request_id.py).
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_JSON = env.bool("LOG_JSON", default=False)
LOGGING = logging_config(json_lines=LOG_JSON, level=LOG_LEVEL)

# --- Metrics and error reporting (config/metrics.py, docs/deploy.md) ------------------------
# /metrics answers only these client addresses or networks, or a bearer token; else 404.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Figures read from the database and Redis are cached this long between scrapes.
METRICS_CACHE_SECONDS = env.int("METRICS_CACHE_SECONDS", default=30)
PROMETHEUS_EXPORT_MIGRATIONS = False
# Optional error reporting; no personal data is sent (send_default_pii=False).
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        send_default_pii=False,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- REST API (issue: SSO and API) ----------------------------------------------------------
# Bearer tokens first, so an unauthenticated call gets 401 with `WWW-Authenticate: Bearer`.
# Session authentication enforces CSRF on unsafe methods (DRF's SessionAuthentication).
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.ApiAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.HasRequiredScopes"],
    "DEFAULT_PAGINATION_CLASS": "config.api.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["config.api.UserThrottle", "config.api.AnonThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("API_THROTTLE_USER", default="600/min"),
        "anon": env("API_THROTTLE_ANON", default="60/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # DRF's default (None) would take a client-supplied X-Forwarded-For as the throttle key.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tunnustenhallinta API",
    "DESCRIPTION": (
        "Own details, organizations, members, invitations and the e-service catalog. "
        "Authenticate with a session (browser, CSRF enforced) or an OAuth2 bearer token "
        "from `/o/token/` with the scopes each operation lists."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PATH_CONVERTER_OVERRIDES": {"oid": int},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "OAUTH2_FLOWS": ["authorizationCode"],
    "OAUTH2_AUTHORIZATION_URL": "/o/authorize/",
    "OAUTH2_TOKEN_URL": "/o/token/",
    "OAUTH2_REFRESH_URL": "/o/token/",
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "organizations.models.Membership.Role",
        "MembershipStatusEnum": "organizations.models.Membership.Status",
        "LanguageEnum": "posti_accounts.models.Language",
    },
}

# --- OpenID Connect provider (issue: SSO and API) -------------------------------------------
# The RS256 signing key. Development generates one into var/ (config/settings/local.py), tests
# in memory, production refuses to start without it (sso/checks.py).
OIDC_RSA_PRIVATE_KEY = env("OIDC_RSA_PRIVATE_KEY", default="")
# Key rotation (docs/deploy.md): further PEM private keys, one after another, that JWKS
# publishes but nothing signs with: the next key before it signs, the previous one until the
# tokens it signed have expired.
OIDC_RSA_PRIVATE_KEYS_INACTIVE = re.findall(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----",
    env("OIDC_RSA_PRIVATE_KEYS_INACTIVE", default="").replace("\\n", "\n"),
    flags=re.S,
)
# Not swapped; named so migrations that point at the application (sso) can resolve it.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": OIDC_RSA_PRIVATE_KEYS_INACTIVE,
    "OIDC_ISS_ENDPOINT": env("OIDC_ISS_ENDPOINT", default=""),
    "OAUTH2_VALIDATOR_CLASS": "sso.oidc.OIDCValidator",
    # Authorization code + PKCE (S256) only.
    "PKCE_REQUIRED": True,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_SECONDS", default=15 * 60),
    "ID_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ID_TOKEN_SECONDS", default=15 * 60),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_REFRESH_TOKEN_SECONDS", default=14 * 86400),
    # Each refresh returns a new refresh token; replaying a used one revokes the whole family.
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    # Ask for consent once per scope set; first-party e-services never ask (sso.RelyingParty).
    "REQUEST_APPROVAL_PROMPT": "auto",
    "ALLOWED_REDIRECT_URI_SCHEMES": env.list("OAUTH_REDIRECT_URI_SCHEMES", default=["https"]),
    # RFC 9700 (OAuth 2.0 Security BCP): no implicit or password grant, S256 only, tokens
    # only in the Authorization header, `iss` in the authorization response, tokens hashed at
    # rest, refresh-token replay detection, exact redirect URIs, PKCE required.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": False,  # dev may allow http (see local.py)
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # Descriptions shown on the consent page are translated in sso/scopes.py.
    "SCOPES_BACKEND_CLASS": "sso.scopes.TranslatedScopes",
    "SCOPES": {
        "openid": "OpenID Connect sign-in",
        "profile": "Name, phone number and language",
        "email": "Email address",
        "organizations": "Organizations, roles and e-services",
        "organizations:manage": "Manage organization members and invitations",
    },
    "DEFAULT_SCOPES": ["openid"],
}

# --- Organizations (issue: organizations) ---------------------------------------------------
INVITATION_EXPIRY_DAYS = env.int("INVITATION_EXPIRY_DAYS", default=7)
# Invitation emails (new and resent) one organization may send in 24 hours; staff are exempt,
# 0 turns the quota off (organizations/services/quota.py).
INVITATION_DAILY_QUOTA = env.int("INVITATION_DAILY_QUOTA", default=500)
# Rollout reminders one organization may send in 24 hours (each person gets at most one a day
# from any organization); 0 turns the quota off (organizations/services/reminders.py).
ROLLOUT_REMINDER_DAILY_QUOTA = env.int("ROLLOUT_REMINDER_DAILY_QUOTA", default=500)

# --- Notifications (issue: campaigns) -------------------------------------------------------
CAMPAIGN_LINK_EXPIRY_DAYS = env.int("CAMPAIGN_LINK_EXPIRY_DAYS", default=14)
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=200)
# Recipients per transaction when a campaign starts (their deliveries and required actions):
# a login of a recipient waits for at most one batch's row locks.
CAMPAIGN_START_BATCH_SIZE = env.int("CAMPAIGN_START_BATCH_SIZE", default=5000)
# A `sending` row older than this belongs to a dead worker and is reclaimed.
CAMPAIGN_CLAIM_TIMEOUT_SECONDS = env.int("CAMPAIGN_CLAIM_TIMEOUT_SECONDS", default=600)
CAMPAIGN_MAX_ATTEMPTS = env.int("CAMPAIGN_MAX_ATTEMPTS", default=5)
CAMPAIGN_RETRY_BACKOFF_SECONDS = env.int("CAMPAIGN_RETRY_BACKOFF_SECONDS", default=60)
# Sender slots per campaign: at most this many `campaign_send` tasks work on one campaign.
CAMPAIGN_SEND_CONCURRENCY = env.int("CAMPAIGN_SEND_CONCURRENCY", default=2)
CAMPAIGN_TASK_MAX_SECONDS = env.int("CAMPAIGN_TASK_MAX_SECONDS", default=120)
# A slot stays taken this long after its sender's last batch (then it is a dead worker's).
CAMPAIGN_SENDER_HEARTBEAT = env.int("CAMPAIGN_SENDER_HEARTBEAT", default=60)
CAMPAIGN_JOURNAL_TTL = env.int("CAMPAIGN_JOURNAL_TTL", default=3 * 24 * 3600)
CAMPAIGN_QUEUE = env("CAMPAIGN_QUEUE", default="celery")
CAMPAIGN_CACHE_PREFIX = env("CAMPAIGN_CACHE_PREFIX", default="campaign")
CAMPAIGN_DISPATCH_INTERVAL = env.int("CAMPAIGN_DISPATCH_INTERVAL", default=30)
# The one scheduler: run exactly one `celery -A config beat`.
CELERY_BEAT_SCHEDULE["campaigns-dispatch"] = {
    "task": "notifications.tasks.campaigns_dispatch",
    "schedule": timedelta(seconds=CAMPAIGN_DISPATCH_INTERVAL),
    "options": {"queue": CAMPAIGN_QUEUE, "expires": CAMPAIGN_DISPATCH_INTERVAL},
}

# --- Migration (issue: legacy migration) ----------------------------------------------------
SHARED_MAILBOX_LOCAL_PARTS = env.list(
    "SHARED_MAILBOX_LOCAL_PARTS",
    default=[
        "info",
        "toimisto",
        "asiakaspalvelu",
        "laskutus",
        "office",
        "kundtjanst",
        "myynti",
        "admin",
        "posti",
        "noreply",
    ],
)
# Weak legacy hashes are wrapped as Argon2id(legacy digest) at OWASP parameters (m=19 MiB, t=2).
LEGACY_WRAP_ARGON2 = {
    "time_cost": env.int("LEGACY_WRAP_TIME_COST", default=2),
    "memory_cost": env.int("LEGACY_WRAP_MEMORY_KIB", default=19 * 1024),
    "parallelism": 1,
}
LEGACY_WRAP_BATCH_SIZE = env.int("LEGACY_WRAP_BATCH_SIZE", default=200)
LEGACY_IMPORT_BATCH_SIZE = env.int("LEGACY_IMPORT_BATCH_SIZE", default=2000)
LEGACY_MERGE_BATCH_SIZE = env.int("LEGACY_MERGE_BATCH_SIZE", default=1000)
# PostgreSQL: batches of identities merged at once, each in its own connection (one per core
# of the database server is a good start).
LEGACY_MERGE_WORKERS = env.int("LEGACY_MERGE_WORKERS", default=2)
# A SQLite fallback lock older than this is taken as left over by a killed process.
LEGACY_LOCK_STALE_SECONDS = env.int("LEGACY_LOCK_STALE_SECONDS", default=6 * 60 * 60)
