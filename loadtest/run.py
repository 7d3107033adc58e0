"""`make loadtest`: the portal under gunicorn on PostgreSQL and Redis, driven by locust.

1. Creates (or refreshes) the data set in the load test's own PostgreSQL database
   (loadtest/dataset.py) and collects static files (served by whitenoise).
2. Measures the raw Argon2id verification rate: one process per core, verifying at once.
3. Starts gunicorn (LOADTEST_WORKERS sync workers) on 127.0.0.1 with loadtest/settings.py
   (production settings over plain http, rate limits raised; see that file).
4. Runs locust headless: the mixed scenario for LOADTEST_SECONDS, then logins only for
   LOADTEST_LOGIN_SECONDS.
5. Stops everything it started (always), empties its Redis database, and prints requests/s,
   error rate and p50/p95/p99 per request type, and logins/s against the raw hash rate.

Environment (defaults): LOADTEST_SECONDS (60), LOADTEST_LOGIN_SECONDS (a third of it, at least
10), LOADTEST_USERS (20), LOADTEST_SPAWN_RATE (10), LOADTEST_LOGIN_USERS (2 per worker),
LOADTEST_WORKERS (2 per core), LOADTEST_PORT (8765), LOADTEST_DATABASE_URL
(postgres://postgres@127.0.0.1:5432/tunnus_load), LOADTEST_REDIS_URL (redis://127.0.0.1:6379/4;
this database is emptied).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NON_PAGE = ("POST /accounts/login/", "GET /accounts/login/")  # the login is bound by the hash
P95_TARGET_MS = 150
LOGIN_RATIO_TARGET = 0.8


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _database_ensure(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(f'CREATE DATABASE "{name}"')


def _verify_for(seconds: float) -> tuple[int, float, float]:
    """(verifications, wall seconds, CPU seconds of this process)."""
    from django.contrib.auth.hashers import check_password

    from loadtest.dataset import PASSWORD

    encoded = os.environ["LOADTEST_HASH"]
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        assert check_password(PASSWORD, encoded)
        n += 1
    return n, time.perf_counter() - start, time.process_time() - cpu


def _raw_argon2_rate(processes: int, seconds: float = 5.0) -> tuple[float, float, float]:
    """(verifications/s of one process, of `processes` processes at once, per CPU second)."""
    from django.contrib.auth.hashers import make_password

    from loadtest.dataset import PASSWORD

    os.environ["LOADTEST_HASH"] = make_password(PASSWORD)
    n, elapsed, _cpu = _verify_for(seconds / 2)
    single = n / elapsed
    with ProcessPoolExecutor(processes) as pool:
        results = list(pool.map(_verify_for, [seconds] * processes))
    parallel = sum(n / elapsed for n, elapsed, _cpu in results)
    per_cpu_second = sum(n for n, _e, _c in results) / sum(c for _n, _e, c in results)
    return single, parallel, per_cpu_second


def _cpu_seconds(proc: subprocess.Popen) -> float:
    """CPU time used so far by gunicorn's master and workers (user + system)."""
    import psutil

    total = 0.0
    try:
        parent = psutil.Process(proc.pid)
        for p in [parent, *parent.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
    except psutil.Error:
        pass
    return total


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            page = url + "/accounts/login/"  # always http://127.0.0.1
            with urllib.request.urlopen(page, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not answer in time")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _locust(env: dict, host: str, scenario: str, users: int, spawn: int, seconds: int, out: Path):
    prefix = out / scenario
    cmd = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(spawn),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with open(out / f"{scenario}.log", "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**env, "LOADTEST_SCENARIO": scenario},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=seconds + 120)
        finally:
            _stop(proc)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    failures = []
    if Path(f"{prefix}_failures.csv").exists():
        with open(f"{prefix}_failures.csv", newline="") as fh:
            failures = list(csv.DictReader(fh))
    return rows, failures


def _print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    header = (
        f"{'request':50} {'count':>7} {'errors':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}"
    )
    print(header + "  (ms)")
    print("-" * len(header))
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "ALL"
        print(
            f"{name[:50]:50} {row['Request Count']:>7} {row['Failure Count']:>6} "
            f"{float(row['Requests/s']):7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
        )


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # so the `finally` blocks stop what was started


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    seconds = _int("LOADTEST_SECONDS", 60)
    login_seconds = _int("LOADTEST_LOGIN_SECONDS", max(10, seconds // 3))
    cores = os.cpu_count() or 2
    workers = _int("LOADTEST_WORKERS", 2 * cores)
    users = _int("LOADTEST_USERS", 20)
    spawn = _int("LOADTEST_SPAWN_RATE", 10)
    login_users = _int("LOADTEST_LOGIN_USERS", 2 * workers)
    port = _int("LOADTEST_PORT", 8765)
    database_url = os.environ.get(
        "LOADTEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tunnus_load"
    )
    redis_url = os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/4")
    host = f"http://127.0.0.1:{port}"

    sys.path.insert(0, str(ROOT))
    from sso.keys import rsa_private_key_generate

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "loadtest.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TRUSTED_PROXY_COUNT": "0",
        "OIDC_RSA_PRIVATE_KEY": rsa_private_key_generate(),
        "EMAIL_URL": "dummymail://",
        "SITE_URL": host,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)

    _database_ensure(database_url)
    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import connections

    from loadtest.dataset import dataset_ensure

    print(f"database: {urlsplit(database_url).path.lstrip('/')}, Redis: {redis_url}")
    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    data = dataset_ensure()
    print(
        f"data set ready in {time.perf_counter() - started:.1f} s: "
        f"{len(data['members']) + len(data['others']) + len(data['main_users'])} users, "
        f"an organization of {len(data['members']) + len(data['main_users'])} members, "
        f"{len(data['tokens'])} bearer tokens"
    )
    call_command("collectstatic", verbosity=0, interactive=False)
    connections.close_all()
    redis.Redis.from_url(redis_url).flushdb()

    single, parallel, raw_per_cpu = _raw_argon2_rate(cores)
    print(
        f"raw Argon2id verifications/s: {single:.1f} in one process, "
        f"{parallel:.1f} in {cores} processes at once"
    )

    out = Path(tempfile.mkdtemp(prefix="loadtest-"))
    data_file = out / "data.json"
    data_file.write_text(json.dumps(data))
    data_file.chmod(0o600)
    env["LOADTEST_DATA"] = str(data_file)

    gunicorn = None
    try:
        gunicorn = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        _wait_until_up(host, gunicorn)
        print(
            f"gunicorn: {workers} workers on {host}; locust: {users} users "
            f"(spawn {spawn}/s) for {seconds} s, then {login_users} login-only users for "
            f"{login_seconds} s"
        )
        cpu0 = _cpu_seconds(gunicorn)
        mixed, mixed_failures = _locust(env, host, "mixed", users, spawn, seconds, out)
        cpu1 = _cpu_seconds(gunicorn)
        login, login_failures = _locust(
            env, host, "login", login_users, login_users, login_seconds, out
        )
        cpu2 = _cpu_seconds(gunicorn)
    finally:
        _stop(gunicorn)
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(redis_url).flushdb()

    _print_table(f"mixed scenario, {seconds} s", mixed)
    _print_table(f"logins only, {login_seconds} s", login)
    for failure in mixed_failures + login_failures:
        print(f"  failure: {failure['Name']}: {failure['Error'][:120]} x{failure['Occurrences']}")

    total = next(r for r in mixed if r["Name"] == "Aggregated")
    requests = int(total["Request Count"])
    errors = int(total["Failure Count"]) + sum(
        int(r["Failure Count"]) for r in login if r["Name"] == "Aggregated"
    )
    slow = [
        r["Name"]
        for r in mixed
        if r["Name"] not in (*NON_PAGE, "Aggregated") and float(r["95%"]) >= P95_TARGET_MS
    ]
    login_post = next((r for r in login if r["Name"] == "POST /accounts/login/"), None)
    logins_per_s = float(login_post["Requests/s"]) if login_post else 0.0
    ratio = logins_per_s / parallel if parallel else 0.0
    # The same comparison in CPU time, which other work on a shared machine does not distort:
    # full logins (GET + POST) per CPU second of the web processes, against verifications per
    # CPU second of the raw hash. Workers recycled during the run make it a slight over-estimate.
    login_count = int(login_post["Request Count"]) if login_post else 0
    logins_per_cpu = login_count / (cpu2 - cpu1) if cpu2 > cpu1 else 0.0
    cpu_ratio = logins_per_cpu / raw_per_cpu if raw_per_cpu else 0.0
    mixed_cpu_ms = 1000 * (cpu1 - cpu0) / max(1, requests)
    print(f"\nlocust output and CSV files: {out}")
    print("summary")
    print(f"  requests/s (mixed): {float(total['Requests/s']):.1f}")
    print(
        f"  web CPU per request (mixed, gunicorn processes only): {mixed_cpu_ms:.1f} ms, "
        f"i.e. ~{1000 / mixed_cpu_ms if mixed_cpu_ms else 0:.0f} requests/s per core"
    )
    print(f"  error rate: {errors / max(1, requests):.4%} ({errors} errors; target 0)")
    print(
        f"  p95 < {P95_TARGET_MS} ms for pages other than login: "
        + ("OK" if not slow else "NOT MET for " + ", ".join(slow))
    )
    print(
        f"  full logins/s: {logins_per_s:.1f} against {parallel:.1f} raw Argon2id "
        f"verifications/s on {cores} cores: ratio {ratio:.2f} "
        f"(target >= {LOGIN_RATIO_TARGET}) {'OK' if ratio >= LOGIN_RATIO_TARGET else 'NOT MET'}"
    )
    print(
        f"  in CPU time: {logins_per_cpu:.1f} full logins per web CPU second against "
        f"{raw_per_cpu:.1f} raw verifications per CPU second: ratio {cpu_ratio:.2f} "
        "(not distorted by other work on the machine)"
    )
    return 0 if errors == 0 and not slow and ratio >= LOGIN_RATIO_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
