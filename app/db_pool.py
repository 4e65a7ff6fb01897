"""Database pool health checks that cost nothing on a busy connection.

SQLAlchemy's `pool_pre_ping` sends a round trip on every checkout: on the
heartbeat path that was one round trip in three. A connection used moments ago
is alive; only one that sat idle in the pool, where a database restart or a
firewall may have cut it, is pinged before it is handed out. A dead one is
replaced at once: DisconnectionError makes the pool retry with a fresh connection.
"""

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine


def install_idle_ping(engine: Engine, idle_seconds: float) -> None:
    @event.listens_for(engine, "checkin")
    def _note_checkin(dbapi_connection, record):
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy):
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return  # just connected, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"stale pooled connection: {error}") from error
