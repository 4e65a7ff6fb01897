"""Rate limits: a fixed-window counter per client and limit, for every limited route.

Login attempts per address, device handshakes, FusionInventory posts, and every
device API call per token. Without Redis the counter is a dict in this process.
With REDIS_URL it is shared by every process, and a process asks Redis only when it
matters (see SharedCounts): a device sending its heartbeat once a minute is far from
any limit, and a Redis round trip on each of its calls was a sixth of a heartbeat's
CPU. (Flask-Limiter did this before; its per-request bookkeeping ran on every
request of the app, limited or not, and was a third of a heartbeat's CPU.)

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
# With Redis: a process counts a key by itself while the count it knows for the window
# stays within this share of the limit (0 for limits under 10: those always ask Redis).
LOCAL_SHARE = 0.1


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
            count = _shared_counts().count(redis, name, window_start + window, int(amount * LOCAL_SHARE))
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


class _Window:
    __slots__ = ("ends_at", "known", "pending")

    def __init__(self, ends_at: int):
        self.ends_at = ends_at
        self.known = 0  # the shared total when this process last asked Redis
        self.pending = 0  # counted here since, not sent yet


class SharedCounts:
    """This process's part of the counters shared in Redis.

    A request is counted here alone while the known total plus what this process has
    counted since stays within `allowance` (a tenth of the limit). Past it, the request
    sends everything counted here to Redis at once (INCRBY) and is judged on the shared
    total, exactly as if nothing were kept here. So each process holds back at most
    `allowance` requests of a window from Redis: a flood spread over N processes gets
    at most (N - 1) tenths of the limit past it, and a device far from its limit never
    costs a round trip.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._swept_at = 0.0

    def count(self, redis, name: str, ends_at: int, allowance: int) -> int:
        """This request counted under `name`: the window's total as far as this process knows."""
        with self._lock:
            window = self._windows.get(name)
            if window is None:
                window = self._windows[name] = self._new_window(ends_at)
            window.pending += 1
            estimate = window.known + window.pending
            if estimate <= allowance:
                return estimate
            pending, window.pending = window.pending, 0
        try:
            pipe = redis.pipeline(transaction=False)
            pipe.incrby(name, pending)
            pipe.expire(name, max(1, int(ends_at - time.time()) + 1))
            total = pipe.execute()[0]
        except RedisError:
            with self._lock:  # kept for when Redis answers again; the caller counts in memory meanwhile
                window.pending += pending
            raise
        with self._lock:
            window.known = max(window.known, total)
        return total

    def _new_window(self, ends_at: int) -> _Window:
        """(Under the lock.) Forget finished windows now and then: one per key and window."""
        now = time.time()
        if len(self._windows) > MEMORY_SWEEP_AT and now - self._swept_at >= 1:
            self._windows = {name: w for name, w in self._windows.items() if w.ends_at > now}
            self._swept_at = now
        return _Window(ends_at)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


def _shared_counts() -> SharedCounts:
    counts = current_app.extensions.get("chamados_shared_rate_limits")
    if counts is None:
        counts = current_app.extensions.setdefault("chamados_shared_rate_limits", SharedCounts())
    return counts


def _memory_table() -> _MemoryTable:
    table = current_app.extensions.get("chamados_rate_limits")
    if table is None:
        table = current_app.extensions.setdefault("chamados_rate_limits", _MemoryTable())
    return table


def reset() -> None:
    """Forget every count (tests)."""
    _memory_table().reset()
    _shared_counts().reset()
    redis = get_redis()
    if redis is not None:
        keys = list(redis.scan_iter(f"{REDIS_PREFIX}*"))
        if keys:
            redis.delete(*keys)
