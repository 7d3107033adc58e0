"""Only one import or merge at a time.

PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`), released when the
process ends, even when it is killed. Other databases (SQLite in development): a row in
`MigrationLock`, taken over when older than `LEGACY_LOCK_STALE_SECONDS`.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.errors import ApplicationError

from ..models import MigrationLock

MSG_MIGRATION_RUNNING = _(
    "Another legacy import or merge is already running. Wait for it to finish and try again."
)

# Any fixed 64-bit number shared by every process of this project.
ADVISORY_LOCK_KEY = 0x5EC0_1E6A_C7
_LOCK_NAME = "legacy-migration"
# PostgreSQL advisory locks are re-entrant within one session; a second start from the same
# process must be refused as well.
_local = threading.local()


@contextmanager
def migration_lock() -> Iterator[None]:
    """Hold the migration lock for the block; raise ApplicationError if someone else has it."""
    if getattr(_local, "held", False):
        raise ApplicationError(MSG_MIGRATION_RUNNING, code="migration_running")
    _local.held = True
    try:
        with _acquire():
            yield
    finally:
        _local.held = False


@contextmanager
def _acquire() -> Iterator[None]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            (acquired,) = cursor.fetchone()
        if not acquired:
            raise ApplicationError(MSG_MIGRATION_RUNNING, code="migration_running")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        return
    holder = f"{socket.gethostname()}:{os.getpid()}"
    stale_before = timezone.now() - timedelta(seconds=settings.LEGACY_LOCK_STALE_SECONDS)
    MigrationLock.objects.filter(name=_LOCK_NAME, acquired_at__lt=stale_before).delete()
    try:
        with transaction.atomic():
            MigrationLock.objects.create(name=_LOCK_NAME, holder=holder)
    except IntegrityError as exc:
        raise ApplicationError(MSG_MIGRATION_RUNNING, code="migration_running") from exc
    try:
        yield
    finally:
        MigrationLock.objects.filter(name=_LOCK_NAME, holder=holder).delete()
