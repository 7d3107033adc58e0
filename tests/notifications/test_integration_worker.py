"""A campaign through real Celery workers (subprocesses, not eager) against Redis and a real
SMTP server on loopback. The first worker is killed with SIGKILL mid-batch; a second one
picks up, reclaims the dead worker's rows after the claim timeout, and finishes. The SMTP
server must have received every recipient exactly once.

The kill is triggered by the SMTP server itself when the dead worker's next message arrives
(before accepting it), so the worker dies while it holds a claimed, half-sent batch. Killing
a client after the server has accepted a message but before the client has read the reply
is the one duplicate no SMTP client can prevent (RFC 1047); it is not what this test is about.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.utils import timezone

from notifications import services
from notifications.models import Campaign, Delivery
from posti_accounts.services import user_create

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = 300
KILL_AT = 120  # the first worker dies when it tries to send message 121
TEST_REDIS_DB = int(os.environ.get("NOTIFICATIONS_TEST_REDIS_DB", "11"))

pytestmark = [
    pytest.mark.faults,  # part of the fault suite (`pytest -m faults`)
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _redis_url() -> str:
    parsed = urlparse(os.environ["REDIS_URL"])
    return f"redis://{parsed.hostname or '127.0.0.1'}:{parsed.port or 6379}/{TEST_REDIS_DB}"


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _start_worker(
    env: dict, tmp_path: Path, name: str, concurrency: int, run_id: str
) -> subprocess.Popen:
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-B",  # this worker also runs the one beat scheduler (the dispatcher)
            "-s",
            str(tmp_path / f"{name}-beat-schedule"),
            "-Q",
            env["CAMPAIGN_QUEUE"],
            "-n",
            f"{name}-{run_id}@%h",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: SIGKILL reaches the pool children
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _redis_cleanup(run_id: str, queue: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(_redis_url())
    # The killed worker's remote-control binding (a clean shutdown removes its own).
    pidbox = "_kombu.binding.celery.pidbox"
    for member in client.smembers(pidbox):
        if run_id.encode() in member:
            client.srem(pidbox, member)
    for member in client.zrange("_kombu.binding_deadlines", 0, -1):
        if not client.exists(b"_kombu.binding." + member):
            client.zrem("_kombu.binding_deadlines", member)
    for pattern in (f"*{queue}*", f"*{prefix}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    # Messages the killed worker never acknowledged wait in kombu's shared unacked hash.
    for tag, payload in client.hscan_iter("unacked"):
        if queue.encode() in payload:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.close()


def _wait_for(predicate, timeout: float, what: str, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_campaign_every_recipient_once(smtp_server, tmp_path):
    users = [
        user_create(email=f"r{i:04d}@example.fi", first_name=f"R{i}", email_verified=True)
        for i in range(RECIPIENTS)
    ]
    campaign = services.campaign_create(
        actor=None, name="Integration", kind=Campaign.Kind.ANNOUNCEMENT
    )
    services.campaign_schedule(campaign=campaign, actor=None, at=timezone.now())

    run_id = uuid.uuid4().hex[:10]
    queue, prefix = f"campaigns-test-{run_id}", f"campaign-test-{run_id}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "False",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": _redis_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "CAMPAIGN_QUEUE": queue,
        "CAMPAIGN_CACHE_PREFIX": prefix,
        "CAMPAIGN_BATCH_SIZE": "50",
        "CAMPAIGN_CLAIM_TIMEOUT_SECONDS": "4",
        "CAMPAIGN_SENDER_HEARTBEAT": "2",
        "CAMPAIGN_DISPATCH_INTERVAL": "1",
        "CAMPAIGN_SEND_CONCURRENCY": "2",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)

    state = {"pgid": None, "killed_at": None}

    def kill_first_worker(index: int):
        if state["pgid"] and state["killed_at"] is None and index == KILL_AT:
            state["killed_at"] = index
            os.killpg(state["pgid"], signal.SIGKILL)
            return "451 4.3.0 Worker gone"  # not accepted: the message was never delivered
        return None

    smtp_server.on_data = kill_first_worker
    first = second = None
    try:
        # One pool process in the first worker, so exactly one message is in flight when
        # it dies (see the module docstring).
        first = _start_worker(env, tmp_path, "first", concurrency=1, run_id=run_id)
        state["pgid"] = first.pid
        _wait_for(lambda: state["killed_at"] is not None, 90, "the kill mid-campaign")
        first.wait(timeout=15)
        assert first.returncode == -signal.SIGKILL

        in_flight = Delivery.objects.filter(
            campaign=campaign, status=Delivery.Status.SENDING
        ).count()
        pending = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING)
        assert in_flight > 0, "the worker should have died holding a claimed batch"
        assert pending.exists(), "the kill should be mid-campaign"

        second = _start_worker(env, tmp_path, "second", concurrency=2, run_id=run_id)

        def finished() -> bool:
            campaign.refresh_from_db()
            return campaign.status == Campaign.Status.DONE

        _wait_for(finished, 120, "the campaign to finish")
    finally:
        for proc in (first, second):
            if proc is not None:
                _stop(proc)
        _redis_cleanup(run_id, queue, prefix)

    by_recipient = Counter(rcpt for m in smtp_server.messages for rcpt in m["to"])
    by_message_id = Counter(m["message_id"] for m in smtp_server.messages)
    assert set(by_recipient) == {u.email for u in users}
    assert max(by_recipient.values()) == 1, [r for r, n in by_recipient.items() if n > 1]
    assert len(by_message_id) == RECIPIENTS and max(by_message_id.values()) == 1
    assert (
        Delivery.objects.filter(campaign=campaign, status=Delivery.Status.SENT).count()
        == RECIPIENTS
    )
