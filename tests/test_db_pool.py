"""Pooled PostgreSQL connections: pinged only after sitting idle, replaced when dead."""

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="the idle ping is for PostgreSQL's pool")


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def _count_pings(engine) -> list:
    pings = []
    real_ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection):
        pings.append(1)
        return real_ping(dbapi_connection)

    engine.dialect.do_ping = counting_ping
    return pings


def test_a_busy_connection_is_not_pinged(make_app):
    application = make_app(DATABASE_PING_IDLE_SECONDS="3600")
    with application.app_context():
        engine = db.engine
        pings = _count_pings(engine)
        first = _backend_pid(engine)
        assert [_backend_pid(engine) for _ in range(5)] == [first] * 5
        assert pings == []  # no round trip spent on checking a connection just used
        engine.dispose()


def test_a_connection_killed_while_idle_is_replaced_before_use(make_app, app):
    application = make_app(DATABASE_PING_IDLE_SECONDS="0")  # every checkout counts as idle
    with application.app_context():
        engine = db.engine
        victim = _backend_pid(engine)
        with app.app_context(), db.engine.connect() as other:  # a database restart, for this connection
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        replacement = _backend_pid(engine)  # no error reaches the caller
        assert replacement != victim
        engine.dispose()
