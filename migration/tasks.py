"""Hash wrapping as a resumable job of Celery tasks.

`legacy_hashes_wrap_dispatch` finds what is still unwrapped and enqueues one
`legacy_hashes_wrap_batch` per id range, so the work spreads over all workers; running the
dispatcher again (after a crash, or from `wrap_legacy_hashes`) resumes with what is left.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(acks_late=True)
def legacy_hashes_wrap_batch(first_id: int, last_id: int) -> int:
    return services.legacy_hashes_wrap_range(first_id=first_id, last_id=last_id)


@shared_task
def legacy_hashes_wrap_dispatch() -> int:
    ranges = services.legacy_hashes_pending_ranges(batch_size=settings.LEGACY_WRAP_BATCH_SIZE)
    for first_id, last_id in ranges:
        legacy_hashes_wrap_batch.delay(first_id, last_id)
    return len(ranges)
