"""Rate limits: a fixed-window counter per client and limit, for every limited route.

Login attempts per address, device handshakes, FusionInventory posts, and every
device API call per token. One counter is all a limit needs: one pipelined round
trip (INCR and EXPIRE) when REDIS_URL is set, shared by every process; a dict in
this process without Redis. (Flask-Limiter did this before; its per-request
bookkeeping ran on every request of the app, limited or not, and was a third of a
heartbeat's CPU with Redis.)

A Redis outage must not take the login page or the device side down: while Redis
is unreachable each process counts in its own memory (logged).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache, wraps

from flask import current_app, request
from limits import parse
from redis.exceptions import RedisError
from werkzeug.exceptions import TooManyRequests

from app.redis_client import get_redis

log = logging.getLogger("chamados.rate_limits")

REDIS_PREFIX = "chamados:ratelimit:"
# The in-process table forgets finished windows once it holds this many keys.
MEMORY_SWEEP_AT = 10_000


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends


@lru_cache(maxsize=32)
def parse_limit(text: str) -> tuple[int, int]:
    """ "120 per minute" -> (120, 60). Same syntax as the Flask-Limiter settings."""
    item = parse(text)
    return item.amount, item.get_expiry()


def hit(key: str, limit: str) -> Verdict:
    """Count one request for `key` against `limit`."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return Verdict(True, 0)
    amount, window = parse_limit(limit)
    now = time.time()
    window_start = int(now // window) * window
    retry_after = max(1, int(window_start + window - now))
    redis = get_redis()
    if redis is None:
        count = _memory_table().incr(key, window_start)
    else:
        name = f"{REDIS_PREFIX}{key}:{window_start}"
        try:
            pipe = redis.pipeline(transaction=False)
            pipe.incr(name)
            pipe.expire(name, window + 1)
            count = pipe.execute()[0]
        except RedisError as error:
            log.warning("rate limits: Redis unavailable (%s); counting in this process", error)
            count = _memory_table().incr(key, window_start)
    return Verdict(count <= amount, retry_after)


def client_address() -> str:
    return request.remote_addr or "?"


def enforce(key: str, limit: str) -> None:
    """Count this request; past the limit, a 429 (TooManyRequests with Retry-After)."""
    verdict = hit(key, limit)
    if not verdict.allowed:
        raise TooManyRequests(retry_after=verdict.retry_after)


def limited(limit, *, methods: tuple[str, ...] | None = None, key=client_address):
    """Decorate a view: at most `limit` requests per client ("10 per minute"; or a
    callable returning it, to read the app's config) to this endpoint."""

    def decorate(view):
        @wraps(view)
        def limited_view(*args, **kwargs):
            if methods is None or request.method in methods:
                enforce(f"{request.endpoint}:{key()}", limit() if callable(limit) else limit)
            return view(*args, **kwargs)

        return limited_view

    return decorate


class _MemoryTable:
    def __init__(self):
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}
        self._swept_for = 0

    def incr(self, key: str, window_start: int) -> int:
        with self._lock:
            start, count = self._windows.get(key, (window_start, 0))
            count = count + 1 if start == window_start else 1
            self._windows[key] = (window_start, count)
            if len(self._windows) > MEMORY_SWEEP_AT and self._swept_for != window_start:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window_start}
                self._swept_for = window_start
            return count

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


def _memory_table() -> _MemoryTable:
    table = current_app.extensions.get("chamados_rate_limits")
    if table is None:
        table = current_app.extensions.setdefault("chamados_rate_limits", _MemoryTable())
    return table


def reset() -> None:
    """Forget every count (tests)."""
    _memory_table().reset()
    redis = get_redis()
    if redis is not None:
        keys = list(redis.scan_iter(f"{REDIS_PREFIX}*"))
        if keys:
            redis.delete(*keys)
