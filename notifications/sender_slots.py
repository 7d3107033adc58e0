"""Sender slots: at most `CAMPAIGN_SEND_CONCURRENCY` senders (and one start runner) per
campaign across every worker. A slot is a key with a heartbeat TTL in Redis (or the local
cache without Redis, see `redis_client`); a dead holder's slot frees itself when the
heartbeat lapses."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from .redis_client import cache_key, redis_client


def _slot_key(campaign_id: int, slot: int | str) -> str:
    return cache_key("slot", campaign_id, slot)


def sender_slot_mark(*, campaign_id: int, slot: int | str) -> None:
    """Heartbeat of the sender holding `slot`: the slot stays taken while it works."""
    key, ttl = _slot_key(campaign_id, slot), settings.CAMPAIGN_SENDER_HEARTBEAT
    client = redis_client()
    if client is not None:
        client.set(key, 1, ex=ttl)
    else:
        cache.set(key, 1, timeout=ttl)


def sender_slot_claim(*, campaign_id: int, slot: int | str) -> bool:
    """Take `slot` for a new sender; False while another sender holds it (or did within
    the heartbeat), so kicking again never adds senders beyond the slots."""
    key, ttl = _slot_key(campaign_id, slot), settings.CAMPAIGN_SENDER_HEARTBEAT
    client = redis_client()
    if client is not None:
        return bool(client.set(key, 1, ex=ttl, nx=True))
    return cache.add(key, 1, timeout=ttl)


def sender_slot_release(*, campaign_id: int, slot: int | str) -> None:
    key = _slot_key(campaign_id, slot)
    client = redis_client()
    if client is not None:
        client.delete(key)
    else:
        cache.delete(key)
