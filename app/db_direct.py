"""One statement, run where it costs least, for the hottest paths: every heartbeat's and
every chat frame's token check, a chat frame's ticket, and storing a chat message.

When this thread's session has no transaction open (a heartbeat, a device's chat frame),
the statement runs outside any: on PostgreSQL straight on a pooled psycopg connection in
autocommit, as a prepared statement. One round trip, no BEGIN/COMMIT, and none of
SQLAlchemy's execution and result machinery (two thirds of the CPU of such a query). A
statement that writes is its own transaction: all of it commits, or none. psycopg already
returns the values SQLAlchemy would (aware datetimes, enum names as str); the callers'
tests compare the two row by row. SQLite needs SQLAlchemy's type processing, and has no
such load, so there the statement runs through SQLAlchemy, in autocommit.

When the session has a transaction open (a request that already loaded its user), the
statement runs in it, on the connection the session holds: a thread never holds two
pooled connections, since threads that each hold one and wait for another can empty the
pool for good. A statement that writes is then part of that unit of work, committed at its
boundary (app/services/transaction.py).

Statements are built once, at import, with `bindparam`s: the compiled SQL is cached
per (statement, engine).
"""

from functools import lru_cache

import psycopg
from sqlalchemy.sql import Executable

from app.extensions import db


def first_row(statement: Executable, params: dict) -> tuple | None:
    # registry.has(): asking must not create a session on paths that never use one (heartbeats).
    if db.session.registry.has() and (session := db.session()).in_transaction():
        return session.execute(statement, params).first()
    engine = db.engine
    if engine.dialect.name != "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return connection.execute(statement, params).first()
    sql, defaults = compiled(statement, engine)
    pooled = engine.raw_connection()
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        return driver.execute(sql, {**defaults, **params}, prepare=True).fetchone()
    except psycopg.OperationalError:
        pooled.invalidate()  # a dead connection must not go back to the pool
        raise
    finally:
        if not driver.closed:
            driver.autocommit = False  # the pool hands out transactional connections
        pooled.close()


@lru_cache(maxsize=32)
def compiled(statement: Executable, engine) -> tuple[str, dict]:
    result = statement.compile(dialect=engine.dialect)
    return str(result), dict(result.params)
