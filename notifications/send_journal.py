"""The per-message send journal: which deliveries an SMTP server has accepted, kept in Redis
(or the local cache without Redis, see `redis_client`) for `CAMPAIGN_JOURNAL_TTL`, so rows
reclaimed from a dead worker are not sent twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from .redis_client import cache_key, redis_client


class SendJournal:
    """Records each accepted message right after the SMTP server accepted it, before the
    next one is sent, so a worker killed mid-batch does not cause a resend when its rows
    are reclaimed.

    On Redis the SET is written to the socket at once but its reply is read only at the end
    of the batch (`close`): a command on the wire reaches Redis even if the worker is
    killed right after, and the batch does not wait for a round trip per message."""

    def __init__(self) -> None:
        self.client = redis_client()
        self.connection: Any = None
        self.pending = 0

    def record(self, *, delivery_id: int, when: datetime) -> None:
        key, ttl = cache_key("sent", delivery_id), settings.CAMPAIGN_JOURNAL_TTL
        value = int(when.timestamp())
        if self.client is None:
            cache.set(key, value, timeout=ttl)
            return
        if self.connection is None:
            self.connection = self.client.connection_pool.get_connection()
        self.connection.send_command("SET", key, value, "EX", ttl)
        self.pending += 1

    def close(self) -> None:
        if self.connection is None or self.client is None:
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
    """The journaled send times (epoch seconds) of those of `delivery_ids` that were sent."""
    if not delivery_ids:
        return {}
    keys = [cache_key("sent", pk) for pk in delivery_ids]
    client = redis_client()
    if client is not None:
        return {
            pk: float(value)
            for pk, value in zip(delivery_ids, client.mget(keys), strict=True)
            if value is not None
        }
    found = cache.get_many(keys)
    return {int(key.rsplit(":", 1)[1]): value for key, value in found.items()}


def journal_forget(delivery_ids: list[int]) -> None:
    keys = [cache_key("sent", pk) for pk in delivery_ids]
    client = redis_client()
    if client is not None:
        client.delete(*keys)
    else:
        cache.delete_many(keys)
