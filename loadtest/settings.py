"""Load-test settings (`make loadtest`): production's, served over plain http on 127.0.0.1.

What differs from production, and why:
- plain http on the loopback: no HTTPS redirect, no HSTS, no `Secure`/`__Host-` cookies (the
  load generator would not send them back over http);
- rate limits raised or off: one load generator logs in hundreds of times a minute from one
  address, which production's per-IP login limit (30/min) and the API throttles would turn
  into errors, and the invitation quota (500 a day per organization) would refuse the
  invitation task after a few minutes. Limits are proven by their own tests, not here.
"""

from config.settings.production import *  # noqa: F403
from config.settings.production import REST_FRAMEWORK

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SECURE_HSTS_PRELOAD = False
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SESSION_COOKIE_NAME = "sessionid"
CSRF_COOKIE_NAME = "csrftoken"

ACCOUNT_RATE_LIMITS = False
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"user": "1000000/min", "anon": "1000000/min"},
}
INVITATION_DAILY_QUOTA = 0
