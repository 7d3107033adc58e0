"""Rollout dashboard benchmark (`make bench`, or `python benchmarks/bench_dashboard.py`).

The staff rollout dashboard (`/admin/rollout/`) with `--users` users (default 200,000; the
design's planning figure is 2,000,000: `--users 2000000`), as many legacy accounts and 30 days
of snapshots, against the same page with 1,000 users in the same database: milliseconds per
request, the ratio, and the number of queries (equal at both sizes). It also times what the
page avoids: counting the figures from the tables (the hourly snapshot task's work), which a
page that counted per request would pay on every view.

Uses its own PostgreSQL database (created and dropped). No timing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_organizations import scratch_database_run, timed_get  # noqa: E402

USERS_SQL = """
INSERT INTO posti_accounts_user (
    password, is_superuser, email, first_name, last_name, phone, preferred_language, uuid,
    requires_verify_email, requires_update_password, requires_check_details,
    details_confirmed_at, password_changed_at, email_undeliverable_at,
    email_undeliverable_reason, is_staff, is_active, date_joined)
SELECT '!', false, %(prefix)s || n || '@bench.example', 'Bench', 'User' || n, '', 'fi',
    gen_random_uuid(), n %% 3 = 0, n %% 2 = 0, false,
    CASE WHEN n %% 4 <> 0 THEN now() - (n %% 30) * interval '1 day' END,
    CASE WHEN n %% 2 = 1 THEN now() END,
    CASE WHEN n %% 97 = 0 THEN now() END, '', false, true, now()
FROM generate_series(%(start)s, %(stop)s) AS n
"""
EMAILS_SQL = """
INSERT INTO account_emailaddress (user_id, email, verified, "primary")
SELECT id, email, id %% 3 <> 0, true FROM posti_accounts_user
WHERE email LIKE %(pattern)s
"""
LEGACY_SQL = """
INSERT INTO migration_legacyaccount (
    service_id, username, email_raw, email, email_valid, first_name, last_name, phone,
    business_id, business_id_valid, organization_name, role, is_active, password_hash,
    hash_scheme, hash_salt, hash_wrapped, state, conflict_reason, warning, row_digest,
    created_at, updated_at)
SELECT %(service)s, %(prefix)s || n, '', '', true, '', '', '', '', true, '', 'user', true, '',
    '', '', false,
    (ARRAY['imported', 'merged', 'merged', 'merged', 'conflict', 'retired'])[n %% 6 + 1],
    '', '', '', now(), now()
FROM generate_series(%(start)s, %(stop)s) AS n
"""


def populate(prefix: str, count: int, service_id: int) -> None:
    from django.db import connection, transaction

    batch = 200_000
    for start in range(0, count, batch):
        stop = min(start + batch, count) - 1
        with transaction.atomic(), connection.cursor() as cursor:
            params = {"prefix": prefix, "start": start, "stop": stop}
            cursor.execute(USERS_SQL, params)
            cursor.execute(LEGACY_SQL, {**params, "service": service_id})
    with connection.cursor() as cursor:
        cursor.execute(EMAILS_SQL, {"pattern": f"{prefix}%"})


def history(days: int) -> None:
    from config.dashboard import rollout_snapshot_take
    from config.models import RolloutSnapshot

    latest = rollout_snapshot_take()
    RolloutSnapshot.objects.bulk_create(
        [
            RolloutSnapshot(day=latest.day - timedelta(days=n), figures=latest.figures)
            for n in range(1, days)
        ],
        ignore_conflicts=True,
    )


def run(users: int, repeat: int) -> None:
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test import Client

    from config.dashboard import _legacy_figures, _phase_figures, _user_figures
    from organizations.models import EService
    from posti_accounts.services import user_create

    service = EService.objects.create(code="bench", name_fi="B", name_sv="B", name_en="B")
    staff = user_create(email="staff@bench.example", password="x" * 16, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_rolloutsnapshot"))
    client = Client()
    client.force_login(staff)

    populate("small", 1000, service.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    history(30)
    ms_small, q_small = timed_get(client, "/admin/rollout/", repeat)

    t0 = time.perf_counter()
    populate("big", users, service.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"created {users:,} users and {users:,} legacy accounts in {time.perf_counter() - t0:.1f} s"
    )
    history(30)
    ms_big, q_big = timed_get(client, "/admin/rollout/", repeat)

    t0 = time.perf_counter()
    _user_figures()
    _legacy_figures()
    _phase_figures()
    counting = (time.perf_counter() - t0) * 1000

    print(f"{'':44} {'1,000 users':>12} {f'{users:,} users':>16} {'ratio':>6}")
    print(
        f"{'dashboard page (median ms)':44} {ms_small:12.1f} {ms_big:16.1f} "
        f"{ms_big / ms_small:6.2f}"
    )
    print(f"{'queries':44} {q_small:12} {q_big:16}")
    print(
        f"counting the figures from the tables (the hourly task; a per-request page would pay "
        f"this each view): {counting:,.0f} ms = {counting / ms_big:.0f}x the page"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args, _unknown = parser.parse_known_args()

    def configure(settings) -> None:
        settings.ADMIN_REQUIRE_2FA = False  # the 2FA gate is not what is measured

    return scratch_database_run(
        "bench_dash", lambda: run(args.users, args.repeat), configure=configure
    )


if __name__ == "__main__":
    sys.exit(main())
