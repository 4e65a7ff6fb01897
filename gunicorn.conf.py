"""gunicorn settings; every value can be overridden from the environment."""

import gc
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads serve pages and API calls; a websocket holds two of them (its loop and simple-websocket's
# reader). The pool that holds the devices' and browsers' sockets at fleet size runs gevent instead
# (GUNICORN_WORKER_CLASS=gevent: two greenlets per socket, thousands per process; README, "Sizing").
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
# On SIGTERM gunicorn stops accepting, lets requests in flight finish for up to
# graceful_timeout seconds, then exits: deploys do not cut requests short.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# The app writes one line per request itself (chamados.request); no duplicate access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def _niceness(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 19:
        raise ValueError(
            f"GUNICORN_NICE must be a whole number from 0 (normal CPU priority) to 19 (the lowest), "
            f"got {raw!r}"
        )
    return value


# The pool's CPU priority (nice level). The device pool (heartbeats and inventories, README
# "Three pools") runs at GUNICORN_NICE=19: when the cores are all busy the staff pages and the
# chat are served first and the devices get what is left. 0 (the default) leaves it alone.
nice = _niceness(os.environ.get("GUNICORN_NICE", "0").strip())


def on_starting(server):
    """Lower the master's priority to `nice` before it forks: every worker, including those it
    forks later to replace one, inherits it."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.nice(nice - current)
        server.log.info("CPU priority: nice %d", nice)


def post_worker_init(worker):
    """Move everything the app built at start-up (modules, routes, tables, compiled SQL) out of
    the garbage collector's reach: it lives as long as the worker, and a full collection
    otherwise walks all of it while every thread of the worker waits (100+ ms pauses on the chat
    bench; 16-46 ms after freezing)."""
    gc.collect()
    gc.freeze()
