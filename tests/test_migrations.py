"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.models.schema_support import include_object


def _pending_diff(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        return compare_metadata(context, db.metadata)


def test_migrated_schema_matches_the_models(app):
    # The session's database was built by `upgrade()` in conftest.
    assert _pending_diff(db.engine) == []


def test_migrations_go_down_and_up_again_on_a_fresh_sqlite_file(make_app, tmp_path):
    scratch = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'scratch.sqlite3'}")
    with scratch.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        assert _pending_diff(db.engine) == []
        db.engine.dispose()


def test_postgres_search_index_exists_when_on_postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the full-text index exists only on PostgreSQL")
    from sqlalchemy import text

    names = db.session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'tickets'")).all()
    assert "ix_tickets_search" in names
