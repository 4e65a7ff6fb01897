"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db


def _pending_diff(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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
