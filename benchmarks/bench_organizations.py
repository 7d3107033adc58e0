"""Organizations benchmark (`make bench`, or `python benchmarks/bench_organizations.py`).

1. The main-user members page (first and last page, and a search) for an organization with
   `--members` members (default 20,000) against a baseline organization with 100 members in the
   same database: prints milliseconds per request, the ratio to the baseline and the number of
   queries (which must be equal at both sizes).
2. Bulk invitation of 1,000 addresses against 10 addresses: per-address time and queries.

Uses its own PostgreSQL database (created and dropped). No timing is asserted: the ratios are
the result.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_DB_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        ADMIN_DB_URL.replace("postgres://", "postgresql://"), autocommit=True
    ) as c:
        c.execute(sql)


def members_bulk(org, count: int, prefix: str, service) -> None:
    from allauth.account.models import EmailAddress

    from organizations.models import Membership
    from posti_accounts.models import User

    batch = 5000
    for start in range(0, count, batch):
        n = min(batch, count - start)
        users = User.objects.bulk_create(
            [
                User(
                    email=f"{prefix}{start + i}@bench.example",
                    first_name="Bench",
                    last_name=f"{prefix}{start + i:06d}",
                    password="!",
                )
                for i in range(n)
            ]
        )
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, primary=True, verified=True) for u in users]
        )
        memberships = Membership.objects.bulk_create(
            [Membership(organization=org, user=u) for u in users]
        )
        through = Membership.services.through
        through.objects.bulk_create(
            [through(membership_id=m.pk, eservice_id=service.pk) for m in memberships]
        )


def timed_get(client, url: str, repeat: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm up
    samples = []
    queries = 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url)
            samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        queries = len(ctx.captured_queries)
    return statistics.median(samples) * 1000, queries


def run(members: int, repeat: int) -> None:
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from organizations import services
    from organizations.models import EService, Invitation
    from posti_accounts.services import user_create
    from tests.factories import _business_id

    service = EService.objects.create(
        code="bench", name_fi="Bench", name_sv="Bench", name_en="Bench"
    )
    main = user_create(email="main@bench.example", password="x" * 16, email_verified=True)
    big = services.organization_create(
        name="Big Oy", business_id=_business_id(1), actor=None, main_user=main
    )
    small = services.organization_create(
        name="Small Oy", business_id=_business_id(2), actor=None, main_user=main
    )
    t0 = time.perf_counter()
    members_bulk(big, members, "big", service)
    members_bulk(small, 100, "small", service)
    print(f"created {members + 100} members in {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    client = Client()
    client.force_login(main)
    last_big = (members + 1 + 49) // 50
    print(f"{'page':38} {'small ms':>9} {'big ms':>9} {'ratio':>6} {'queries':>9}")
    for label, query_small, query_big in [
        ("members, first page", "", ""),
        ("members, last page", "?page=3", f"?page={last_big}"),
        ("members, search by name", "?q=000042", "?q=000042"),
        ("members, filter by e-service", "?service=bench", "?service=bench"),
    ]:
        ms_small, q_small = timed_get(client, f"/organizations/{small.pk}/{query_small}", repeat)
        ms_big, q_big = timed_get(client, f"/organizations/{big.pk}/{query_big}", repeat)
        print(
            f"{label:38} {ms_small:9.1f} {ms_big:9.1f} {ms_big / ms_small:6.2f} "
            f"{q_small:>4}/{q_big:<4}"
        )

    for size in (10, 1000):
        rows = [services.InviteRow(f"inv{size}-{i}@bench.example") for i in range(size)]
        # The request's own work: the emails go out after commit, one worker task each (here
        # eager, so they would otherwise be counted as the request's queries).
        with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            services.invitations_bulk_create(organization=big, rows=rows, actor=main)
            elapsed = time.perf_counter() - start
        per_row = elapsed / size * 1000
        print(
            f"bulk invite {size:>5} rows: {elapsed * 1000:8.1f} ms total, {per_row:6.2f} ms/row, "
            f"{len(ctx.captured_queries)} queries"
        )
    assert Invitation.objects.filter(organization=big).count() == 1010


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args, _unknown = parser.parse_known_args()

    return scratch_database_run("bench_org", lambda: run(args.members, args.repeat))


def scratch_database_run(prefix: str, body, *, configure=None) -> int:
    """Run `body()` with Django set up on a fresh, migrated PostgreSQL database that is dropped
    afterwards; `configure(settings)` may adjust settings first. Without PostgreSQL, says so."""
    db_name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        pg_admin(f'CREATE DATABASE "{db_name}"')
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL: say so and skip
        print(f"skipped: PostgreSQL is not available ({exc.__class__.__name__})")
        return 0
    os.environ["DATABASE_URL"] = ADMIN_DB_URL.rsplit("/", 1)[0] + "/" + db_name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test.utils import setup_test_environment

        setup_test_environment()
        if configure is not None:
            configure(settings)
        logging.disable(logging.INFO)  # eager Celery logs every email task
        call_command("migrate", verbosity=0, interactive=False)
        body()
    finally:
        from django.db import connections

        connections.close_all()
        pg_admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
