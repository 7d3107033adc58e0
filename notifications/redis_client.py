"""The Redis client that the sending engine's shared state uses (`throttle`, `send_journal`,
`sender_slots`), and the keys it writes.

That state lives in the Redis of the default cache whenever there is more than one worker
(REDIS_URL), so every worker draws from the same budget, sees the same journal and the same
slots. Without Redis (tests, `make run`: one process) the callers use the local-memory Django
cache instead.

The Redis client is used directly, not through Django's cache: the journal is written once
per message on the sending hot path, and Django's Redis cache builds a new client object on
every call.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

REDIS_BACKENDS = ("django.core.cache.backends.redis.RedisCache", "config.cache.DegradingRedisCache")

_clients: dict[tuple[int, str], Any] = {}


def redis_client() -> Any | None:
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


def cache_key(*parts: object) -> str:
    """A key under `CAMPAIGN_CACHE_PREFIX`, the same in Redis and in the local cache."""
    return ":".join([settings.CAMPAIGN_CACHE_PREFIX, *map(str, parts)])
