"""Campaign benchmark (`make bench`, or `python benchmarks/bench_campaign.py --recipients N`).

1. N recipients (default 20,000) sent by real Celery workers (subprocesses, Redis broker) to
   an aiosmtpd server on loopback (its own process), against a baseline in the same run: the
   same messages rendered and sent by a plain loop over one SMTP connection. Prints
   messages/second for both, their ratio (target >= 0.75), the time to materialize the
   deliveries and the duplicates the server saw (must be 0).
2. `Delivery` materialization for 1,000,000 users (`--users`, 0 to skip) on PostgreSQL
   (target under 30 s). Users are created in bulk with unusable passwords.
3. Logins during a verify_and_renew start on those users: a second process (`login_probe`)
   keeps doing the login path's row update (`UPDATE ... SET last_login` of one random
   recipient, its own transaction) and records how long each waited. Measured for today's
   batched start (`campaign_start`) and for the former one-transaction start (one INSERT ...
   SELECT + one UPDATE of every recipient) in the same run; prints p50/p99/max wait (target
   p99 < 200 ms, max < 1 s) and each start's total time.

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


def login_probe_main(dsn: str, table: str, low: int, high: int, outfile: str) -> None:
    """Child process: until SIGTERM, UPDATE the last_login of a random user in [low, high]
    in its own transaction (what a login does to the user's row) and append "start_time
    seconds_taken" lines. A short pause between updates leaves the CPU to the start."""
    import random

    import psycopg

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    rng = random.Random(0)
    sql = f"UPDATE {table} SET last_login = now() WHERE id = %s"  # noqa: S608
    with (
        psycopg.connect(dsn.replace("postgres://", "postgresql://")) as conn,
        open(outfile, "a", buffering=1) as out,
    ):
        while not stop:
            user_id = rng.randint(low, high)
            began = time.time()
            t0 = time.perf_counter()
            with conn.transaction():
                conn.execute(sql, [user_id])
            out.write(f"{began:.6f} {time.perf_counter() - t0:.6f}\n")
            time.sleep(0.005)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def waits_during(path: Path, began: float, ended: float) -> list[float]:
    waits = []
    for line in path.read_text().splitlines():
        stamp, seconds = map(float, line.split())
        if began <= stamp <= ended:
            waits.append(seconds)
    return waits


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
    parser.add_argument(
        "--users", "--million-users", dest="users", type=int, default=1_000_000,
        help="users for the materialization and login-wait parts (0 skips them)",
    )  # fmt: skip
    parser.add_argument("--start-batch-size", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--smtp-server", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--login-probe", nargs=5, help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.smtp_server:
        smtp_server_main(int(args.smtp_server[0]), args.smtp_server[1])
        return 0
    if args.login_probe:
        dsn, table, low, high, outfile = args.login_probe
        login_probe_main(dsn, table, int(low), int(high), outfile)
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
    if args.start_batch_size:
        env["CAMPAIGN_START_BATCH_SIZE"] = str(args.start_batch_size)
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
    total = args.users
    if total:
        t0 = time.perf_counter()
        users_bulk_create(start=n + 1, count=max(total - n, 0))
        print(f"created {total:,} users in bulk: {time.perf_counter() - t0:.1f} s", flush=True)
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
        # The senders are not part of the login-wait measurement (and would send a million
        # messages): stop the worker; what the starts enqueue stays in the bench's queue.
        stop_process(procs.pop(0))
        login_waits(env, workdir)
    return 0 if duplicates == 0 and dup_recipients == 0 and len(rcpts) == n else 1


def stop_process(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def login_waits(env: dict, workdir: Path) -> None:
    """A verify_and_renew start on every user while the login probe runs: first the former
    one-transaction start, then (after putting the users back) today's batched one."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.db.models import Max, Min

    from notifications import services
    from notifications.models import Campaign, CampaignStartBatch

    user = get_user_model()
    table = user._meta.db_table
    bounds = user.objects.aggregate(low=Min("pk"), high=Max("pk"))

    def probed(label: str, start) -> tuple[float, list[float]]:
        samples = workdir / f"probe-{label}.txt"
        probe = subprocess.Popen(
            [sys.executable, __file__, "--login-probe", env["DATABASE_URL"], table,
             str(bounds["low"]), str(bounds["high"]), str(samples)],
            env=env,
        )  # fmt: skip
        try:
            time.sleep(2)  # connected and probing before the start begins
            began = time.time()
            t0 = time.perf_counter()
            start()
            seconds = time.perf_counter() - t0
            ended = time.time()
            time.sleep(0.5)  # an update that waited until the end is recorded now
        finally:
            stop_process(probe)
        return seconds, waits_during(samples, began, ended)

    def report(label: str, seconds: float, waits: list[float]) -> None:
        if not waits:
            print(f"{label}: {seconds:.1f} s, no login updates recorded")
            return
        print(
            f"{label}: {seconds:.1f} s; {len(waits):,} login updates during it waited "
            f"p50 {percentile(waits, 0.5) * 1000:.1f} ms, p99 {percentile(waits, 0.99) * 1000:.1f}"
            f" ms, max {max(waits) * 1000:.0f} ms",
            flush=True,
        )

    def one_transaction():
        with transaction.atomic():  # the start as it was: everything in one transaction
            services.campaign_deliveries_insert(campaign=old)
            services.campaign_required_actions_set(campaign=old)

    old = services.campaign_create(
        actor=None, name="bench-renew-one-transaction", kind=Campaign.Kind.VERIFY_AND_RENEW
    )
    old_seconds, old_waits = probed("one", one_transaction)

    # Put the users back as they were (no actions set), so the batched start has the same
    # rows to update, and clean up after the big UPDATE so it does not slow the next one.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET requires_verify_email = false, "  # noqa: S608
            "requires_update_password = false"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")

    new = services.campaign_create(
        actor=None, name="bench-renew-batched", kind=Campaign.Kind.VERIFY_AND_RENEW
    )
    new_seconds, new_waits = probed(
        "batched", lambda: services.campaign_start(campaign=new, actor=None)
    )
    batches = CampaignStartBatch.objects.filter(campaign=new).count()
    print(
        f"verify_and_renew start on {bounds['high'] - bounds['low'] + 1:,} users while logins "
        f"update their rows (target p99 < 200 ms, max < 1 s):"
    )
    report("  one transaction (INSERT + one UPDATE of every recipient), before", old_seconds,
           old_waits)  # fmt: skip
    report(
        f"  batched start ({batches} batch{'' if batches == 1 else 'es'} of "
        f"{settings.CAMPAIGN_START_BATCH_SIZE:,}), now",
        new_seconds,
        new_waits,
    )
    print(f"  start time batched / one transaction: {new_seconds / old_seconds:.2f}")


if __name__ == "__main__":
    sys.exit(main())
