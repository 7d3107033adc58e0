"""Tasks of the top floor."""

from __future__ import annotations

import socket

from celery import shared_task

from config import worker_health


@shared_task(name="config.tasks.health_heartbeat", ignore_result=True)
def health_heartbeat() -> None:
    """Scheduled by beat; a worker running it proves workers take tasks."""
    worker_health.worker_heartbeat_record(socket.gethostname())


@shared_task(acks_late=True)
def rollout_snapshot_take() -> int:
    """Refresh today's rollout dashboard snapshot (celery beat, hourly)."""
    from .dashboard import rollout_snapshot_take as take

    return take().pk
