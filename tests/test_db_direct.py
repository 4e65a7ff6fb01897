"""app/db_direct.py: one statement in autocommit, on the raw driver connection on PostgreSQL."""

import pytest
from sqlalchemy import bindparam, select

from app import db_direct
from app.extensions import db
from app.models import Tenant
from tests.conftest import TEST_DATABASE_URL

_TENANT_NAME = select(Tenant.name).where(Tenant.id == bindparam("tenant_id"))


def test_a_read_sees_what_was_committed_and_nothing_else(app, tenant):
    assert db_direct.first_row(_TENANT_NAME, {"tenant_id": tenant.id}) == (tenant.name,)
    assert db_direct.first_row(_TENANT_NAME, {"tenant_id": 10**9}) is None
    tenant.name = "Renomeado, ainda sem commit"
    db.session.flush()
    # Outside the session's transaction: the uncommitted name is not visible.
    assert db_direct.first_row(_TENANT_NAME, {"tenant_id": tenant.id}) != ("Renomeado, ainda sem commit",)
    db.session.commit()
    assert db_direct.first_row(_TENANT_NAME, {"tenant_id": tenant.id}) == ("Renomeado, ainda sem commit",)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="the raw-driver path is PostgreSQL's")
def test_a_failed_read_gives_its_connection_back_transactional(app, monkeypatch):
    """A read runs in autocommit; whatever happens, the pool must get back a connection
    in transactions again, or the next request's rollback would undo nothing."""
    import psycopg

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
