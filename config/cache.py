"""The Redis cache, degrading instead of failing while Redis is unreachable.

Sessions live in PostgreSQL; the cache holds only what can be lost or recomputed: rate-limit
counters (allauth's login, sign-up and reset limits, the API throttles) and short-lived
values. While Redis is down every read is a miss and every write is dropped, so pages and
the API keep working; the rate limits are then not enforced (fail open) and come back by
themselves with Redis. A warning is logged at most once a minute per process, and /readyz
reports the outage. (Campaign sending uses Redis directly, see notifications/redis_client.py:
it waits for Redis, like the Celery broker.)
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
WARN_EVERY_SECONDS = 60
_last_warning = [0.0]


def _warn(operation: str, exc: BaseException) -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= WARN_EVERY_SECONDS:
        _last_warning[0] = now
        logger.warning(
            "Redis cache unreachable (%s: %s): serving without the cache",
            operation,
            type(exc).__name__,
        )


def _degrading(name: str, fallback):
    def method(self, *args, **kwargs):
        try:
            return getattr(super(DegradingRedisCache, self), name)(*args, **kwargs)
        except UNREACHABLE as exc:
            _warn(name, exc)
            return fallback(*args, **kwargs) if callable(fallback) else fallback

    method.__name__ = name
    return method


def _default_of_get(key, default=None, *args, **kwargs):
    return default


def _missing(key, *args, **kwargs):
    raise ValueError(f"Key '{key}' not found (cache unreachable)")  # as for a missing key


class DegradingRedisCache(RedisCache):
    get = _degrading("get", _default_of_get)
    get_many = _degrading("get_many", lambda *a, **k: {})
    has_key = _degrading("has_key", False)
    set = _degrading("set", None)
    add = _degrading("add", True)  # as if stored: allauth takes its lock with add()
    touch = _degrading("touch", False)
    set_many = _degrading("set_many", lambda data, *a, **k: list(data))
    delete = _degrading("delete", False)
    delete_many = _degrading("delete_many", None)
    incr = _degrading("incr", _missing)
    decr = _degrading("decr", _missing)
    clear = _degrading("clear", None)
