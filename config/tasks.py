from celery import shared_task


@shared_task(acks_late=True)
def rollout_snapshot_take() -> int:
    """Refresh today's rollout dashboard snapshot (celery beat, hourly)."""
    from .dashboard import rollout_snapshot_take as take

    return take().pk
