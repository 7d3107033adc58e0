"""Enqueueing Celery tasks by their registered name.

Services decide *that* work is queued; tasks are thin wrappers that call services. A service
therefore never imports a tasks module (that would be a circle: tasks → services → tasks):
it names the task, and the one Celery app resolves the name. Enqueue after commit
(`task_enqueue_on_commit`) whenever the task reads rows the caller is writing.
"""

from __future__ import annotations

import importlib

from celery import current_app
from django.db import transaction


def _task(name: str):
    tasks = current_app.tasks
    if name not in tasks:
        # The web process has not imported the tasks module yet (workers autodiscover it).
        importlib.import_module(name.rsplit(".", 1)[0])
    return tasks[name]


def task_enqueue(name: str, *args, queue: str | None = None) -> None:
    """Send task `name` with positional `args` (ids only: never secrets) now."""
    options = {"queue": queue} if queue else {}
    _task(name).apply_async(args=list(args), **options)


def task_enqueue_on_commit(name: str, *args, queue: str | None = None) -> None:
    """Send task `name` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task_enqueue(name, *args, queue=queue))
