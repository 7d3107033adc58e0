"""PostgreSQL restarted under load: while it is down, requests that need the database get a
clear 503 (a translated page, or JSON on the API) and never a 500 or a stack trace; when it
is back, the same web processes serve again (CONN_HEALTH_CHECKS), and the same Celery worker
takes the next task, without restarting either."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, free_port, listening, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

MSG_FI = "Palvelu ei ole juuri nyt käytettävissä"
RECOVERY_SECONDS = 5  # after PostgreSQL is back, every request begun later must succeed


def _env(database_url: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "False",
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CONN_MAX_AGE": "60",  # persistent connections: the restart breaks them
        "ADMIN_REQUIRE_2FA": "False",
    }
    return env


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


class Load:
    """Two kinds of requests that need the database, in a loop, recorded with their time:
    a login POST (HTML) and an API call with an unknown bearer token (JSON)."""

    def __init__(self, base: str):
        self.base = base
        self.results: list[tuple[float, str, int, bytes]] = []
        self.stop = threading.Event()
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = self.opener.open(base + "/accounts/login/", timeout=10).read()
        self.csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def _call(self, kind: str) -> tuple[int, bytes]:
        if kind == "login":
            data = urllib.parse.urlencode(
                {"csrfmiddlewaretoken": self.csrf, "login": "nobody@example.fi", "password": "x"}
            ).encode()
            request = urllib.request.Request(
                self.base + "/accounts/login/", data=data, headers={"Referer": self.base + "/"}
            )
        else:
            request = urllib.request.Request(
                self.base + "/api/v1/me", headers={"Authorization": "Bearer not-a-token"}
            )
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""  # no answer at all (must not happen: counted as a failure)

    def run(self) -> None:
        while not self.stop.is_set():
            for kind in ("login", "api"):
                started = time.monotonic()
                status, body = self._call(kind)
                self.results.append((started, kind, status, body))
            time.sleep(0.05)


def _send_email(env: dict, to: str) -> None:
    """Another process of the portal writes an email to the outbox and queues it."""
    code = (
        "from posti_accounts.emails import email_send_rendered; "
        f"email_send_rendered(to={to!r}, subject='Hei', text='Viesti')"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, check=True, timeout=60,
    )  # fmt: skip


def test_postgres_restart_under_load(private_postgres, private_redis, smtp_server, tmp_path):
    import urllib.parse  # noqa: F401 - used by Load

    from tests.notifications.test_integration_worker import _start_worker, _stop

    private_postgres.createdb("portal")
    env = _env(private_postgres.url("portal"))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True, timeout=180,
    )  # fmt: skip
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-w", "2",
         "-b", f"127.0.0.1:{port}", "--timeout", "30", "--graceful-timeout", "5"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker_env = {
        **env,
        "REDIS_URL": private_redis.url,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "CAMPAIGN_QUEUE": "celery",
    }
    worker = _start_worker(worker_env, tmp_path, "pg-faults", concurrency=1, run_id="pg")
    load = None
    try:
        # The worker has done a task (so it holds a database connection) before the restart.
        _send_email(worker_env, "before@example.fi")
        wait_for(lambda: len(smtp_server.messages) == 1, 60, "the worker's first email")
        wait_for(lambda: listening(port), 60, "gunicorn")
        base = f"http://127.0.0.1:{port}"
        load = Load(base)
        workers_before = wait_for(lambda: len(_children(web.pid)) == 2, 30, "2 workers")
        workers_before = _children(web.pid)
        thread = threading.Thread(target=load.run, daemon=True)
        thread.start()
        wait_for(lambda: len(load.results) >= 6, 60, "traffic before the outage")
        private_postgres.stop()
        time.sleep(3)
        private_postgres.start()
        up_at = time.monotonic()
        wait_for(
            lambda: sum(r[0] > up_at + RECOVERY_SECONDS for r in load.results) >= 6,
            90,
            "traffic after the outage",
        )
        load.stop.set()
        thread.join(timeout=30)
        workers_after = _children(web.pid)
        # The same Celery worker process takes the next task after the restart.
        _send_email(worker_env, "after@example.fi")
        wait_for(lambda: len(smtp_server.messages) == 2, 60, "the worker's email after it")
        assert worker.poll() is None
    finally:
        if load is not None:
            load.stop.set()
        web.terminate()
        web.wait(timeout=30)
        _stop(worker)

    normal = {"login": 200, "api": 401}
    results = load.results
    assert all(status != 500 and status != 0 for _t, _k, status, _b in results), {
        (k, s) for _t, k, s, _b in results
    }
    # The first answers came before PostgreSQL was stopped (waited for above): all normal.
    assert all(status == normal[kind] for _t, kind, status, _b in results[:6])
    unavailable = [r for r in results if r[2] == 503]
    assert unavailable, "no request saw the outage"
    # Only requests in flight during the outage (or in the seconds it takes to come back).
    assert all(t <= up_at + RECOVERY_SECONDS for t, _k, _s, _b in unavailable)
    for _t, kind, _status, body in unavailable:
        assert b"Traceback" not in body and b"OperationalError" not in body
        if kind == "api":
            assert json.loads(body)["code"] == "service_unavailable"
        else:
            assert MSG_FI in body.decode()
    after = [r for r in results if r[0] > up_at + RECOVERY_SECONDS]
    assert after and all(status == normal[kind] for _t, kind, status, _b in after)
    assert workers_after == workers_before  # the same processes recovered: no restart
    assert [m["to"] for m in smtp_server.messages] == [["before@example.fi"], ["after@example.fi"]]
