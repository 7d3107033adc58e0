"""Campaign-wide send rate across every worker, and the per-message send journal.

Both live in the Redis of the default cache whenever there is more than one worker
(REDIS_URL), so every worker draws from the same budget and sees the same journal. Without
Redis (tests, `make run`: one process) they use the local-memory Django cache.

The Redis client is used directly, not through Django's cache: the journal is written once
per message on the sending hot path, and Django's Redis cache builds a new client object on
every call.
"""

from __future__ import annotations

import os
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60
REDIS_BACKENDS = ("django.core.cache.backends.redis.RedisCache", "config.cache.DegradingRedisCache")

_clients: dict[tuple[int, str], object] = {}


def _redis():
    """The Redis server behind the default cache (one client per process), or None when
    the cache is not Redis (tests and `make run` use local memory)."""
    config = settings.CACHES["default"]
    if config["BACKEND"] not in REDIS_BACKENDS:
        return None
    url = config["LOCATION"]
    key = (os.getpid(), url)
    if key not in _clients:
        import redis

        _clients[key] = redis.Redis.from_url(url)
    return _clients[key]


def _key(*parts: object) -> str:
    return ":".join([settings.CAMPAIGN_CACHE_PREFIX, *map(str, parts)])


def throttle_acquire(*, campaign_id: int, per_minute: int, want: int, now: datetime) -> int:
    """Take up to `want` sends from this minute's budget; returns how many were granted.

    A fixed one-minute window counted with an atomic INCRBY: the first `per_minute` sends of
    the window are granted, whichever workers ask. Over-counting (asking for more than is
    left) only lowers that window's rate, never raises it."""
    if per_minute <= 0:
        return want
    window = int(now.timestamp()) // WINDOW_SECONDS
    key = _key("throttle", campaign_id, window)
    client = _redis()
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


class SendJournal:
    """Records each accepted message right after the SMTP server accepted it, before the
    next one is sent, so a worker killed mid-batch does not cause a resend when its rows
    are reclaimed.

    On Redis the SET is written to the socket at once but its reply is read only at the end
    of the batch (`close`): a command on the wire reaches Redis even if the worker is
    killed right after, and the batch does not wait for a round trip per message."""

    def __init__(self):
        self.client = _redis()
        self.connection = None
        self.pending = 0

    def record(self, *, delivery_id: int, when: datetime) -> None:
        key, ttl = _key("sent", delivery_id), settings.CAMPAIGN_JOURNAL_TTL
        value = int(when.timestamp())
        if self.client is None:
            cache.set(key, value, timeout=ttl)
            return
        if self.connection is None:
            self.connection = self.client.connection_pool.get_connection()
        self.connection.send_command("SET", key, value, "EX", ttl)
        self.pending += 1

    def close(self) -> None:
        if self.connection is None:
            return
        try:
            for _ in range(self.pending):
                self.connection.read_response()
        finally:
            self.client.connection_pool.release(self.connection)
            self.connection = None
            self.pending = 0


def journal_record_sent(*, delivery_id: int, when: datetime) -> None:
    journal = SendJournal()
    journal.record(delivery_id=delivery_id, when=when)
    journal.close()


def journal_sent_among(delivery_ids: list[int]) -> dict[int, float]:
    if not delivery_ids:
        return {}
    keys = [_key("sent", pk) for pk in delivery_ids]
    client = _redis()
    if client is not None:
        return {
            pk: float(value)
            for pk, value in zip(delivery_ids, client.mget(keys), strict=True)
            if value is not None
        }
    found = cache.get_many(keys)
    return {int(key.rsplit(":", 1)[1]): value for key, value in found.items()}


def journal_forget(delivery_ids: list[int]) -> None:
    keys = [_key("sent", pk) for pk in delivery_ids]
    client = _redis()
    if client is not None:
        client.delete(*keys)
    else:
        cache.delete_many(keys)


def _slot_key(campaign_id: int, slot: int | str) -> str:
    return _key("slot", campaign_id, slot)


def sender_slot_mark(*, campaign_id: int, slot: int | str) -> None:
    """Heartbeat of the sender holding `slot`: the slot stays taken while it works."""
    key, ttl = _slot_key(campaign_id, slot), settings.CAMPAIGN_SENDER_HEARTBEAT
    client = _redis()
    if client is not None:
        client.set(key, 1, ex=ttl)
    else:
        cache.set(key, 1, timeout=ttl)


def sender_slot_claim(*, campaign_id: int, slot: int | str) -> bool:
    """Take `slot` for a new sender; False while another sender holds it (or did within
    the heartbeat), so kicking again never adds senders beyond the slots."""
    key, ttl = _slot_key(campaign_id, slot), settings.CAMPAIGN_SENDER_HEARTBEAT
    client = _redis()
    if client is not None:
        return bool(client.set(key, 1, ex=ttl, nx=True))
    return cache.add(key, 1, timeout=ttl)


def sender_slot_release(*, campaign_id: int, slot: int | str) -> None:
    key = _slot_key(campaign_id, slot)
    client = _redis()
    if client is not None:
        client.delete(key)
    else:
        cache.delete(key)
