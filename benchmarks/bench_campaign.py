"""Campaign benchmark (`make bench`, or `python benchmarks/bench_campaign.py --recipients N`).

1. N recipients (default 20,000) sent by real Celery workers (subprocesses, Redis broker) to
   an aiosmtpd server on loopback (its own process), against a baseline in the same run: the
   same messages rendered and sent by a plain loop over one SMTP connection. Prints
   messages/second for both, their ratio (target >= 0.75), the time to materialize the
   deliveries and the duplicates the server saw (must be 0).
2. `Delivery` materialization for 1,000,000 users (`--million-users`, 0 to skip) on
   PostgreSQL (target under 30 s). Users are created in bulk with unusable passwords.

Uses its own PostgreSQL database (created and dropped) and its own Redis db number.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_DB_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


def smtp_server_main(port: int, outfile: str) -> None:
    """Child process: accept everything, append "message-id recipient" lines to outfile."""
    from email.parser import BytesHeaderParser

    from aiosmtpd.controller import Controller

    out = open(outfile, "a", buffering=1)  # noqa: SIM115
    parser = BytesHeaderParser()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            headers = parser.parsebytes(envelope.content)
            rcpts = ",".join(envelope.rcpt_tos)
            out.write(f"{time.time():.6f} {headers['Message-ID']} {rcpts}\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()
    out.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def received_lines(path: Path) -> list[tuple[float, str, str]]:
    rows = []
    for line in path.read_text().splitlines():
        stamp, message_id, rcpts = line.split(" ")
        rows.append((float(stamp), message_id, rcpts))
    return rows


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        ADMIN_DB_URL.replace("postgres://", "postgresql://"), autocommit=True
    ) as c:
        c.execute(sql)


def users_bulk_create(*, start: int, count: int) -> None:
    """INSERT ... SELECT generate_series users with unusable passwords, and their
    EmailAddress rows, in one transaction (the invariant: both always exist together)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    user = get_user_model()
    explicit = {
        "email": "'bench' || i || '@example.fi'",
        "first_name": "'Etu' || i",
        "last_name": "'Suku'",
        "preferred_language": "(ARRAY['fi','sv','en'])[1 + i %% 3]",
        "uuid": "gen_random_uuid()",
        "password": "'!' || md5(i::text)",
        "date_joined": "now()",
    }
    columns, values, params = [], [], []
    for field in user._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.name in explicit:
            values.append(explicit[field.name])
        elif field.null:
            values.append("NULL")
        else:  # any other column gets its (constant) default
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    table = user._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM generate_series(%s, %s) AS i",
            [*params, start, start + count - 1],
        )
        cur.execute(
            'INSERT INTO account_emailaddress (user_id, email, verified, "primary") '
            f"SELECT u.id, u.email, false, true FROM {table} u WHERE u.email LIKE 'bench%%' "
            "AND NOT EXISTS (SELECT 1 FROM account_emailaddress e WHERE e.user_id = u.id)",
            [],
        )
        cur.execute(f"ANALYZE {table}")


def baseline_send(campaign, users: list) -> float:
    """Plain loop: render each message and send it over one SMTP connection."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives, get_connection

    from notifications.sending import CampaignRenderer, action_url_for

    renderer = CampaignRenderer(campaign)
    url = action_url_for(campaign=campaign, token=None)
    started = time.perf_counter()
    smtp = get_connection()
    smtp.open()
    for n, user in enumerate(users):
        subject, body = renderer.render(user=user, action_url=url, organization_names="")
        message = EmailMultiAlternatives(
            subject,
            body,
            settings.DEFAULT_FROM_EMAIL,
            [user.email],
            headers={"Message-ID": f"<baseline-{n}@bench>"},
        )
        smtp.send_messages([message])
    smtp.close()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--million-users", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--smtp-server", nargs=2, help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.smtp_server:
        smtp_server_main(int(args.smtp_server[0]), args.smtp_server[1])
        return 0

    run_id = uuid.uuid4().hex[:8]
    db_name = f"bench_campaign_{run_id}"
    queue, prefix = f"bench-campaigns-{run_id}", f"bench-campaign-{run_id}"
    smtp_port = free_port()
    workdir = Path(f"/tmp/bench_campaign_{run_id}")
    workdir.mkdir()
    received = workdir / "received.txt"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "False",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": ADMIN_DB_URL.rsplit("/", 1)[0] + "/" + db_name,
        "REDIS_URL": REDIS_BASE,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "CAMPAIGN_QUEUE": queue,
        "CAMPAIGN_CACHE_PREFIX": prefix,
        "CAMPAIGN_SEND_CONCURRENCY": str(args.concurrency),
        "CAMPAIGN_TASK_MAX_SECONDS": "600",
    }
    os.environ.update(env)
    pg_admin(f"CREATE DATABASE {db_name}")
    procs: list[subprocess.Popen] = []
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--smtp-server", str(smtp_port), str(received)],
                env=env,
            )
        )
        return run(args, env, workdir, received, queue, procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        from django.db import connections

        connections.close_all()
        pg_admin(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        import redis

        client = redis.Redis.from_url(REDIS_BASE)
        for pattern in (f"*{queue}*", f"*{prefix}*", f"*{run_id}*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
        pidbox = "_kombu.binding.celery.pidbox"
        for member in client.smembers(pidbox):
            if run_id.encode() in member:
                client.srem(pidbox, member)
        for member in client.zrange("_kombu.binding_deadlines", 0, -1):
            if not client.exists(b"_kombu.binding." + member):
                client.zrem("_kombu.binding_deadlines", member)
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


def run(args, env, workdir: Path, received: Path, queue: str, procs: list) -> int:
    from django.contrib.auth import get_user_model

    from notifications import services
    from notifications.models import Campaign

    n = args.recipients
    print(f"recipients: {n}, worker pool: {args.concurrency} processes", flush=True)
    users_bulk_create(start=1, count=n)
    import socket

    for _ in range(100):  # wait for the SMTP server process to listen
        try:
            socket.create_connection(("127.0.0.1", int(env["EMAIL_URL"].rsplit(":", 1)[1])), 1)
            break
        except OSError:
            time.sleep(0.1)

    # --- baseline ----------------------------------------------------------------------
    campaign = services.campaign_create(
        actor=None, name="bench", kind=Campaign.Kind.ANNOUNCEMENT, audience_language=""
    )
    users = list(
        get_user_model()
        .objects.filter(email__startswith="bench")
        .only("email", "first_name", "last_name", "preferred_language")
    )
    baseline_seconds = baseline_send(campaign, users)
    while count_lines(received) < n:
        time.sleep(0.1)
    baseline_rate = n / baseline_seconds
    print(f"baseline (plain loop, one SMTP connection): {baseline_rate:,.0f} msg/s", flush=True)
    received.write_text("")

    # --- Celery workers -----------------------------------------------------------------
    worker_log = open(workdir / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
            "-n", f"bench-{queue}@%h", f"--concurrency={args.concurrency}",
            "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    procs.insert(0, worker)
    from config.celery import app

    for _ in range(120):
        if app.control.ping(timeout=0.5):
            break
    else:
        print("worker did not start")
        return 1

    from django.db import transaction

    t0 = time.perf_counter()
    services.campaign_materialize(campaign=campaign)
    materialize_seconds = time.perf_counter() - t0
    # Timing the send from here; campaign_start's own materialization is now a no-op.
    started_wall = time.time()
    services.campaign_start(campaign=campaign, actor=None)
    # Poll rarely (the workers need the CPU); the end time is the server's stamp of the
    # last message, so the polling interval does not count.
    deadline = time.monotonic() + max(600, n / 20)
    while time.monotonic() < deadline and count_lines(received) < n:
        time.sleep(1)
    time.sleep(2)  # anything extra (a duplicate) would arrive now
    rows = received_lines(received)
    celery_seconds = max(stamp for stamp, _m, _r in rows) - started_wall
    ids = Counter(message_id for _s, message_id, _r in rows)
    rcpts = Counter(rcpt for _s, _m, rcpt in rows)
    duplicates = sum(c - 1 for c in ids.values() if c > 1)
    dup_recipients = sum(c - 1 for c in rcpts.values() if c > 1)
    celery_rate = len(ids) / celery_seconds
    campaign.refresh_from_db()
    print(f"materialize {n:,} deliveries (INSERT ... SELECT): {materialize_seconds:.2f} s")
    print(
        f"celery workers (claim batches, one SMTP connection per batch): {celery_rate:,.0f} "
        f"msg/s ({len(ids):,} messages in {celery_seconds:.1f} s)"
    )
    ratio = celery_rate / baseline_rate
    print(f"ratio celery/baseline: {ratio:.2f} (target >= 0.75)")
    print(f"duplicates: {duplicates} by Message-ID, {dup_recipients} by recipient (must be 0)")
    print(f"missing: {n - len(rcpts)}; campaign status: {campaign.status}", flush=True)

    # --- materialization at scale -------------------------------------------------------
    million = args.million_users
    if million:
        t0 = time.perf_counter()
        users_bulk_create(start=n + 1, count=max(million - n, 0))
        print(f"created {million:,} users in bulk: {time.perf_counter() - t0:.1f} s", flush=True)
        first = services.campaign_create(
            actor=None, name="bench-million", kind=Campaign.Kind.ANNOUNCEMENT
        )
        t0 = time.perf_counter()
        inserted = services.campaign_materialize(campaign=first)  # autocommit: incl. commit
        print(
            f"materialize {inserted:,} deliveries (one INSERT ... SELECT): "
            f"{time.perf_counter() - t0:.1f} s (target < 30 s)"
        )
        t0 = time.perf_counter()
        inserted = services.campaign_materialize(campaign=first)
        print(f"materialize again (idempotent): {inserted} new rows, "
              f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
        renew = services.campaign_create(
            actor=None, name="bench-million-renew", kind=Campaign.Kind.VERIFY_AND_RENEW
        )
        t0 = time.perf_counter()
        with transaction.atomic():  # as in campaign_start; timed with its commit
            inserted = services.campaign_deliveries_insert(campaign=renew)
            t1 = time.perf_counter()
            updated = services.campaign_required_actions_set(campaign=renew)
        t2 = time.perf_counter()
        print(
            f"verify_and_renew start: {inserted:,} deliveries {t1 - t0:.1f} s + required "
            f"actions set on {updated:,} users (one UPDATE) {t2 - t1:.1f} s"
        )
    return 0 if duplicates == 0 and dup_recipients == 0 and len(rcpts) == n else 1


if __name__ == "__main__":
    sys.exit(main())
