"""One Redis client per app, only when REDIS_URL is set."""

from flask import current_app
from redis import Redis


def get_redis() -> Redis | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("chamados_redis")
    if client is None:
        client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        current_app.extensions["chamados_redis"] = client
    return client
