"""Celery tasks of the campaigns. Thin: they take ids and call `sending` / `services`
(orchestration — kicking senders, the dispatcher's run — is in `services`).

- `campaigns_dispatch` is the one periodic scheduler (celery beat, every
  CAMPAIGN_DISPATCH_INTERVAL seconds): starts campaigns whose time has come and makes sure
  every sending campaign with due work has senders (after a crash, retries, throttling).
  Nothing else schedules work for later: no countdowns or ETAs on the broker.
- `campaign_send` sends batches for up to CAMPAIGN_TASK_MAX_SECONDS in one of the
  campaign's CAMPAIGN_SEND_CONCURRENCY sender slots (a Redis key with a heartbeat), so
  kicking a campaign again never piles up senders. Duplicated or redelivered copies are
  harmless: each batch is claimed atomically.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from kernel.errors import ApplicationError

from . import sending, services, throttle
from .models import Campaign

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def campaign_send(campaign_id: int, slot: int = 0) -> None:
    try:
        sent, reason = sending.campaign_send_loop(campaign_id=campaign_id, slot=slot)
    except BaseException:
        throttle.sender_slot_release(campaign_id=campaign_id, slot=slot)
        raise
    logger.info("campaign %s: sent %s, %s", campaign_id, sent, reason)
    if reason == "budget" and not settings.CELERY_TASK_ALWAYS_EAGER:
        # The time budget is used but work is due now: continue in the same slot at once
        # (a fresh task, so one message never holds a worker for long).
        throttle.sender_slot_mark(campaign_id=campaign_id, slot=slot)
        campaign_send.apply_async(args=[campaign_id, slot], queue=settings.CAMPAIGN_QUEUE)
        return
    # Idle, stopped, throttled or SMTP down: free the slot; the dispatcher's next tick
    # kicks the campaign again if it then has due work.
    throttle.sender_slot_release(campaign_id=campaign_id, slot=slot)


@shared_task(acks_late=True, ignore_result=True)
def campaign_start_task(campaign_id: int, actor_id: int | None = None) -> None:
    """Start a campaign that staff asked to start now (idempotent: started once)."""
    from django.contrib.auth import get_user_model

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        services.campaign_start(campaign=campaign, actor=actor)
    except ApplicationError as exc:
        # Already started by the dispatcher or a second click, or cancelled meanwhile.
        logger.info("campaign %s not started: %s", campaign_id, exc.code)


@shared_task(ignore_result=True)
def campaigns_dispatch() -> None:
    services.campaigns_dispatch_run()
