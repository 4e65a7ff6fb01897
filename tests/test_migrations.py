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


def test_devices_registered_before_0009_keep_their_identity(make_app, tmp_path):
    """0009 backfills machine_identifiers from existing serials and MACs, so a computer already
    registered by our agent is recognised when FusionInventory reports it."""
    from sqlalchemy import JSON, column, table, text

    tenants = table(
        "tenants", *(column(c) for c in ("id", "key", "name", "timezone", "ticket_sequence", "created_at"))
    )
    machine_columns = (
        "id",
        "tenant_id",
        "hostname",
        "os_name",
        "os_version",
        "os_build",
        "os_arch",
        "source",
    )
    machines = table(
        "machines",
        *(column(c) for c in (*machine_columns, "persona", "is_active", "created_at", "updated_at")),
        column("serial_numbers", JSON),
        column("mac_addresses", JSON),
    )
    scratch = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'backfill.sqlite3'}")
    with scratch.app_context():
        upgrade(revision="0008")
        with db.engine.begin() as connection:
            connection.execute(
                tenants.insert().values(
                    id=1, key="t", name="T", timezone="UTC", ticket_sequence=0, created_at="2026"
                )
            )
            for machine_id, serials, macs in ((1, ["SN-1"], ["aa:01"]), (2, [], ["aa:01", "aa:02"])):
                connection.execute(
                    machines.insert().values(
                        id=machine_id,
                        tenant_id=1,
                        hostname="pc",
                        serial_numbers=serials,
                        mac_addresses=macs,
                        os_name="",
                        os_version="",
                        os_build="",
                        os_arch="",
                        source="agente Chamados",
                        persona="COLLABORATOR",
                        is_active=True,
                        created_at="2026",
                        updated_at="2026",
                    )
                )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT machine_id, kind, value FROM machine_identifiers ORDER BY machine_id, kind, value"
                )
            ).all()
        db.engine.dispose()
    # A MAC two devices shared stays with the older one.
    assert [tuple(r) for r in rows] == [(1, "mac", "aa:01"), (1, "serial", "SN-1"), (2, "mac", "aa:02")]


def test_0020_partitions_the_telemetry_and_goes_back_keeping_the_rows(make_app):
    """On PostgreSQL 0020 turns metric_samples and inventory_snapshots into time-partitioned
    tables, rows included, and its downgrade makes them plain tables again with the same rows."""
    from tests.conftest import TEST_DATABASE_URL, _create_database_if_missing, _reset_database

    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("the telemetry tables are partitioned only on PostgreSQL")
    from sqlalchemy import text

    url = f"{TEST_DATABASE_URL}_m0020"
    _create_database_if_missing(url)
    _reset_database(url)
    scratch = make_app(DATABASE_URL=url)
    partitioned = (
        "SELECT count(*) FROM pg_partitioned_table "
        "WHERE partrelid::regclass::text IN ('metric_samples', 'inventory_snapshots')"
    )
    where = "SELECT tableoid::regclass::text FROM metric_samples"
    with scratch.app_context():
        upgrade(revision="0019")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO tenants (key, name, timezone, ticket_sequence, created_at) "
                    "VALUES ('t', 'T', 'UTC', 0, now())"
                )
            )
            connection.execute(
                text("INSERT INTO machines (tenant_id, hostname, created_at) VALUES (1, 'pc', now())")
            )
            connection.execute(
                text(
                    "INSERT INTO metric_samples (machine_id, taken_at, cpu_percent) VALUES "
                    "(1, now() - interval '10 days', 10), (1, now(), 20)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO inventory_snapshots (machine_id, content_hash, inventory, created_at) "
                    "VALUES (1, 'h', '{}', now() - interval '30 days')"
                )
            )
        upgrade()
        with db.engine.begin() as connection:
            assert connection.scalar(text(partitioned)) == 2
            days = connection.scalars(text(where + " ORDER BY taken_at")).all()
            assert (
                len(days) == 2
                and all(day.startswith("metric_samples_p") for day in days)
                and days[0] != days[1]
            )
            assert connection.scalar(text("SELECT count(*) FROM inventory_snapshots")) == 1
            # New samples get ids from the same (now 64-bit) sequence.
            connection.execute(text("INSERT INTO metric_samples (machine_id, taken_at) VALUES (1, now())"))
            assert connection.scalar(text("SELECT max(id) FROM metric_samples")) == 3
        assert _pending_diff(db.engine) == []

        downgrade(revision="0019")
        with db.engine.connect() as connection:
            assert connection.scalar(text(partitioned)) == 0
            assert connection.scalars(text(where)).all() == ["metric_samples"] * 3
            assert connection.scalar(text("SELECT count(*) FROM inventory_snapshots")) == 1
        upgrade()
        db.engine.dispose()
