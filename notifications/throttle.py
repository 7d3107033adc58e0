"""Campaign-wide send rate across every worker: a per-minute budget in Redis (or the local
cache without Redis, see `redis_client`)."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache

from .redis_client import cache_key, redis_client

WINDOW_SECONDS = 60


def throttle_acquire(*, campaign_id: int, per_minute: int, want: int, now: datetime) -> int:
    """Take up to `want` sends from this minute's budget; returns how many were granted.

    A fixed one-minute window counted with an atomic INCRBY: the first `per_minute` sends of
    the window are granted, whichever workers ask. Over-counting (asking for more than is
    left) only lowers that window's rate, never raises it."""
    if per_minute <= 0:
        return want
    window = int(now.timestamp()) // WINDOW_SECONDS
    key = cache_key("throttle", campaign_id, window)
    client = redis_client()
    if client is not None:
        pipe = client.pipeline()
        pipe.incrby(key, want)
        pipe.expire(key, WINDOW_SECONDS * 3)
        used_after = pipe.execute()[0]
    else:
        cache.add(key, 0, timeout=WINDOW_SECONDS * 3)
        try:
            used_after = cache.incr(key, want)
        except ValueError:  # expired between add and incr
            cache.add(key, 0, timeout=WINDOW_SECONDS * 3)
            used_after = cache.incr(key, want)
    used_before = used_after - want
    return max(0, min(want, per_minute - used_before))
