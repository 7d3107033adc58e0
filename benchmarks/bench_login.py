"""Login throughput against the raw cost of the password hash.

Prints raw Argon2id verifications per second (the production hasher, m=19 MiB, t=2, p=1),
full logins per second through the real allauth login view and the whole middleware stack
with CSRF checks on (GET the login page, read the CSRF cookie, POST the form), and their ratio.
Target: ratio >= 0.7, i.e. the request path adds at most ~40 % to the hash.

Runs on the local settings with an in-memory SQLite database (nothing to clean up; a file on
a shared disk would measure fsync latency rather than the request path).
Rate limits are switched off for the run (ACCOUNT_RATE_LIMITS=False): the benchmark logs in
the same account many times a second from one address.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRODUCTION_HASHER = "posti_accounts.hashers.Argon2idHasher"
PASSWORD = "benchmark-passphrase-2026!"
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="time per measurement")
    args, _unknown = parser.parse_known_args()

    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["EMAIL_URL"] = "dummymail://"
    os.environ["LOG_LEVEL"] = "WARNING"
    # As in production: no template debug annotations, no static-file autorefresh.
    os.environ["DEBUG"] = "False"

    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed
    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    overrides = override_settings(
        PASSWORD_HASHERS=[PRODUCTION_HASHER, *settings.PASSWORD_HASHERS[1:]],
        ACCOUNT_RATE_LIMITS=False,
        ALLOWED_HOSTS=["testserver"],
        DEBUG=False,
    )
    overrides.enable()
    try:
        return _run(args.seconds)
    finally:
        overrides.disable()
        from django.db import connections

        connections.close_all()


def _run(seconds: float) -> int:
    from django.contrib.auth.hashers import check_password, get_hasher
    from django.core.management import call_command
    from django.test import Client

    from posti_accounts.services import user_create

    call_command("migrate", verbosity=0, interactive=False)
    hasher = get_hasher()
    print(
        f"hasher: {type(hasher).__module__}.{type(hasher).__name__} "
        f"(m={hasher.memory_cost} KiB, t={hasher.time_cost}, p={hasher.parallelism})"
    )
    print("rate limits: OFF for this benchmark (ACCOUNT_RATE_LIMITS=False)")
    user = user_create(email="bench@example.fi", password=PASSWORD, email_verified=True)
    encoded = user.password
    assert encoded.startswith("argon2$argon2id$"), encoded

    # One client (one WSGI handler, as in a server process); each login starts with no
    # cookies, like a new browser.
    client = Client(enforce_csrf_checks=True)

    def one_login(verify: bool = False) -> None:
        client.cookies.clear()
        page = client.get("/accounts/login/")
        token = CSRF_RE.search(page.content.decode()).group(1)
        # Form-encoded, as browsers send a login form.
        body = urlencode({"login": user.email, "password": PASSWORD, "csrfmiddlewaretoken": token})
        response = client.post(
            "/accounts/login/", body, content_type="application/x-www-form-urlencoded"
        )
        if response.status_code != 302 or "sessionid" not in response.cookies:
            raise SystemExit(f"login failed: HTTP {response.status_code}")
        if verify and client.session.get("_auth_user_id") != str(user.pk):
            raise SystemExit("login did not authenticate the session")

    # Warm-up: template loading, URL resolver, hasher.
    check_password(PASSWORD, encoded)
    one_login(verify=True)

    # Interleaved, so that load from other processes on the machine hits both sides alike:
    # one raw verification, then one full login (GET + POST), timed separately.
    raw_time = full_time = 0.0
    n = 0
    deadline = time.perf_counter() + 2 * seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        assert check_password(PASSWORD, encoded)
        t1 = time.perf_counter()
        one_login()
        t2 = time.perf_counter()
        raw_time += t1 - t0
        full_time += t2 - t1
        n += 1
    raw = n / raw_time
    full = n / full_time

    ratio = full / raw
    print(f"raw hasher verifications/s: {raw:8.2f}")
    print(f"full logins/s (GET+POST, CSRF, all middleware): {full:8.2f}")
    print(
        f"ratio full/raw: {ratio:.3f} (target >= 0.70) {'OK' if ratio >= 0.7 else 'BELOW TARGET'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
