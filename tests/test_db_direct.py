"""app/db_direct.py: one statement outside any session (autocommit, the raw driver on PostgreSQL),
or inside the session's open transaction."""

import pytest
from sqlalchemy import bindparam, event, select, update

from app import db_direct
from app.extensions import db
from app.models import Tenant
from tests.conftest import TEST_DATABASE_URL

_TENANT_NAME = select(Tenant.name).where(Tenant.id == bindparam("tenant_id"))


def test_without_an_open_session_a_read_sees_only_committed_data(app, tenant):
    name, tenant_id = tenant.name, tenant.id
    db.session.commit()
    db.session.remove()  # as a heartbeat or a device's chat frame starts
    assert db_direct.first_row(_TENANT_NAME, {"tenant_id": tenant_id}) == (name,)
    assert db_direct.first_row(_TENANT_NAME, {"tenant_id": 10**9}) is None
    with db.engine.connect() as other_request:
        other_request.execute(
            update(Tenant.__table__).where(Tenant.id == tenant_id).values(name="Renomeado, ainda sem commit")
        )
        assert db_direct.first_row(_TENANT_NAME, {"tenant_id": tenant_id}) == (name,)
        other_request.commit()
    assert db_direct.first_row(_TENANT_NAME, {"tenant_id": tenant_id}) == ("Renomeado, ainda sem commit",)


def test_with_an_open_session_the_statement_runs_in_it_on_its_connection(app, tenant):
    """A thread never holds two pooled connections (threads that each hold one and wait
    for another can empty the pool for good)."""
    tenant.name = "Renomeado nesta sessão"
    db.session.flush()
    checkouts = []

    def count(*args):
        checkouts.append(args)

    event.listen(db.engine, "checkout", count)
    try:
        assert db_direct.first_row(_TENANT_NAME, {"tenant_id": tenant.id}) == ("Renomeado nesta sessão",)
    finally:
        event.remove(db.engine, "checkout", count)
    assert checkouts == []


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="the raw-driver path is PostgreSQL's")
def test_a_failed_read_gives_its_connection_back_transactional(app, monkeypatch):
    """A read runs in autocommit; whatever happens, the pool must get back a connection
    in transactions again, or the next request's rollback would undo nothing."""
    import psycopg

    db.session.remove()  # no session open: the raw-driver path
    monkeypatch.setattr(db_direct, "compiled", lambda statement, engine: ("SELECT no_such_column", {}))
    drivers = []
    real_raw_connection = db.engine.raw_connection

    def recording_raw_connection():
        pooled = real_raw_connection()
        drivers.append(pooled.driver_connection)
        return pooled

    monkeypatch.setattr(db.engine, "raw_connection", recording_raw_connection)
    with pytest.raises(psycopg.errors.UndefinedColumn):
        db_direct.first_row(_TENANT_NAME, {"tenant_id": 1})
    assert drivers and drivers[0].autocommit is False
