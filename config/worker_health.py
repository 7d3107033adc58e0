"""Worker and scheduler heartbeats, for the campaign admin pages (issue 15).

- The scheduler (Celery beat) is heard from whenever it publishes a periodic task: the
  `before_task_publish` signal in the beat process (marked by `beat_init`) records the time.
- Workers are heard from when one starts (`worker_ready`) and every time one runs the
  `config.tasks.health_heartbeat` task, which beat schedules every HEALTH_HEARTBEAT_SECONDS.
  A worker that is up but stuck or cut off from the broker stops running it, so this proves
  more than a process being alive.

Times are kept in the cache (Redis in production, shared by every machine). Without a broker
(development, tests) tasks run in-process, so there is nothing to be missing.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

SCHEDULER_KEY = "health:scheduler"
WORKER_KEY = "health:worker"
KEY_TTL = 7 * 24 * 3600

MSG_SCHEDULER = _(
    "The scheduler has not been heard from for %(minutes)s minutes: scheduled campaigns do "
    "not start and interrupted sending does not resume. Start exactly one scheduler "
    "(make scheduler)."
)
MSG_SCHEDULER_NEVER = _(
    "The scheduler has never been heard from: scheduled campaigns do not start. Start exactly "
    "one scheduler (make scheduler)."
)
MSG_WORKERS = _(
    "No worker has been heard from for %(minutes)s minutes: emails are not being sent. Check "
    "the workers (make worker)."
)
MSG_WORKERS_NEVER = _(
    "No worker has ever been heard from: emails are not being sent. Start the workers "
    "(make worker)."
)

_in_beat = False


def scheduler_heartbeat_record(now: float | None = None) -> None:
    cache.set(SCHEDULER_KEY, now or time.time(), KEY_TTL)


def worker_heartbeat_record(hostname: str = "", now: float | None = None) -> None:
    cache.set(WORKER_KEY, {"at": now or time.time(), "hostname": hostname}, KEY_TTL)


@dataclass(frozen=True)
class Health:
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _minutes(seconds: float) -> int:
    return max(1, int(seconds // 60))


def health_get(now: float | None = None) -> Health:
    """What staff should be told about the background parts (empty when all is well)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Health([])
    now = now or time.time()
    problems = []
    try:
        scheduler = cache.get(SCHEDULER_KEY)
        worker = cache.get(WORKER_KEY)
    except Exception:  # the cache (Redis) is down: say nothing rather than fail the page
        return Health([])
    if scheduler is None:
        problems.append(str(MSG_SCHEDULER_NEVER))
    elif now - scheduler > settings.HEALTH_SCHEDULER_STALE_SECONDS:
        problems.append(str(MSG_SCHEDULER % {"minutes": _minutes(now - scheduler)}))
    if worker is None:
        problems.append(str(MSG_WORKERS_NEVER))
    elif now - worker["at"] > settings.HEALTH_WORKER_STALE_SECONDS:
        problems.append(str(MSG_WORKERS % {"minutes": _minutes(now - worker["at"])}))
    return Health(problems)


def heartbeat_age(part: str, now: float | None = None) -> float | None:
    """Seconds since `part` ("scheduler" or "worker") was last heard from (None: never)."""
    value = cache.get(SCHEDULER_KEY if part == "scheduler" else WORKER_KEY)
    if value is None:
        return None
    at = value if part == "scheduler" else value["at"]
    return (now or time.time()) - at


# --- Celery signals ---------------------------------------------------------------------
def on_beat_init(sender=None, **kwargs) -> None:
    global _in_beat
    _in_beat = True
    scheduler_heartbeat_record()


def on_task_publish(sender=None, **kwargs) -> None:
    if _in_beat:
        scheduler_heartbeat_record()


def on_worker_ready(sender=None, **kwargs) -> None:
    worker_heartbeat_record(getattr(sender, "hostname", "") or socket.gethostname())


def celery_signals_connect() -> None:
    from celery.signals import beat_init, before_task_publish, worker_ready

    beat_init.connect(on_beat_init, weak=False, dispatch_uid="health_beat_init")
    before_task_publish.connect(on_task_publish, weak=False, dispatch_uid="health_publish")
    worker_ready.connect(on_worker_ready, weak=False, dispatch_uid="health_worker_ready")
