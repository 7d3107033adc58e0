"""Celery tasks of the campaigns. Each takes ids and calls one service of `services`, which
holds the orchestration and enqueues any further task after commit; no task calls another.

- `campaigns_dispatch` is the one periodic scheduler (celery beat, every
  CAMPAIGN_DISPATCH_INTERVAL seconds): starts campaigns whose time has come, resumes a start
  a crash interrupted, and makes sure every sending campaign with due work has senders
  (after a crash, retries, throttling). Nothing else schedules work for later: no countdowns
  or ETAs on the broker.
- `campaign_start_task` starts a campaign staff asked to start now.
- `campaign_send` sends batches for up to CAMPAIGN_TASK_MAX_SECONDS in one of the
  campaign's CAMPAIGN_SEND_CONCURRENCY sender slots (a Redis key with a heartbeat), so
  kicking a campaign again never piles up senders. Duplicated or redelivered copies are
  harmless: each batch is claimed atomically.
"""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def campaign_send(campaign_id: int, slot: int = 0) -> None:
    services.campaign_send_run(campaign_id=campaign_id, slot=slot)


@shared_task(acks_late=True, ignore_result=True)
def campaign_start_task(campaign_id: int, actor_id: int | None = None) -> None:
    services.campaign_start_run(campaign_id=campaign_id, actor_id=actor_id)


@shared_task(ignore_result=True)
def campaigns_dispatch() -> None:
    services.campaigns_dispatch_run()
