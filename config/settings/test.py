"""pytest settings: fast hashing, in-process tasks, local-memory cache and email."""

from sso.keys import rsa_private_key_generate

from .base import *  # noqa: F403
from .base import CONTENT_SECURITY_POLICY, OAUTH2_PROVIDER

DEBUG = False
SECRET_KEY = "test-only-secret-key"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
LANGUAGE_CODE = "fi"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY
# OIDC: a signing key generated in memory for this test process.
OIDC_RSA_PRIVATE_KEY = rsa_private_key_generate()
OAUTH2_PROVIDER = {**OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# The bulk-invitation tests send the 1,000-row maximum (and more) in one day; the quota's own
# tests (tests/security/test_invitation_quota.py) set theirs. Production default: 500.
INVITATION_DAILY_QUOTA = 5000
# The suite fails many logins on purpose; the padding is proven in tests/security.
LOGIN_FAILURE_MIN_SECONDS = 0
