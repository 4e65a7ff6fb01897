"""telemetry: metric_samples and inventory_snapshots partitioned by time on PostgreSQL

At 100 000 devices sampled every 5 minutes metric_samples takes 28.8 million rows a day, and
the retention sweep's batched DELETEs of 90-day-old rows could never keep up. On PostgreSQL
both telemetry tables become range-partitioned by time: metric_samples by taken_at, one
partition per UTC day; inventory_snapshots (written only when an inventory changes) by
created_at, one partition per week starting on Monday, UTC. Retention then drops whole
partitions and the daily retention job creates those of the week ahead
(app/services/partitions.py). Each table gets a DEFAULT partition so that a row no partition
covers is still written.

This migration creates a partition for every day (week) from the oldest row to a week ahead,
copies the rows into the new table and drops the old one. metric_samples.id becomes bigint
(a 32-bit id lasts 75 days at that rate); a partitioned table's primary key must contain its
key, so the primary keys become (id, taken_at) and (id, created_at). Nothing references either
table's id.

SQLite keeps its plain tables: nothing happens there.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 07:00:00.000000

"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

AHEAD_DAYS = 7
EPOCH_MONDAY = datetime(2024, 1, 1, tzinfo=UTC)  # as app/services/partitions.py (frozen copy)

# table, partition key, partition width in days, index columns by name
TABLES = (
    ('metric_samples', 'taken_at', 1, {
        'ix_metric_samples_machine_taken': 'machine_id, taken_at',
        'ix_metric_samples_taken_at': 'taken_at',
    }),
    ('inventory_snapshots', 'created_at', 7, {
        'ix_inventory_snapshots_machine_created': 'machine_id, created_at',
        'ix_inventory_snapshots_created_at': 'created_at',
    }),
)


def _start_of(moment, days):
    midnight = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=(midnight - EPOCH_MONDAY).days % days)


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, key, days, indexes in TABLES:
        _partition(table, key, days, indexes)


def _partition(table, key, days, indexes):
    old = _set_aside(table, 'unpartitioned', indexes)
    op.execute(f'CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE ({key})')
    if table == 'metric_samples':
        op.execute('ALTER SEQUENCE metric_samples_id_seq AS bigint')
        op.execute('ALTER TABLE metric_samples ALTER COLUMN id TYPE bigint')
    _add_keys_and_indexes(table, f'id, {key}', indexes)
    op.execute(f'CREATE TABLE {table}_default PARTITION OF {table} DEFAULT')

    now = datetime.now(UTC)
    oldest = op.get_bind().scalar(sa.text(f'SELECT min({key}) FROM {old}')) or now
    start = _start_of(min(oldest, now), days)
    while start <= now + timedelta(days=AHEAD_DAYS):
        end = start + timedelta(days=days)
        op.execute(
            f"CREATE TABLE {table}_p{start:%Y%m%d} PARTITION OF {table} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
        start = end

    _move_rows(old, table)
    op.execute(f'ANALYZE {table}')


def _set_aside(table, suffix, indexes):
    """Rename the table, its keys and its indexes out of the way; the new name."""
    old = f'{table}_{suffix}'
    op.execute(f'ALTER TABLE {table} RENAME TO {old}')
    op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}')
    op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT fk_{table}_machine_id_machines TO fk_{old}')
    for name in indexes:
        op.execute(f'ALTER INDEX {name} RENAME TO {name}_{suffix}')
    return old


def _add_keys_and_indexes(table, primary_key, indexes):
    op.execute(f'ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({primary_key})')
    op.execute(
        f'ALTER TABLE {table} ADD CONSTRAINT fk_{table}_machine_id_machines FOREIGN KEY (machine_id) '
        'REFERENCES machines (id) ON DELETE CASCADE'
    )
    for name, columns in indexes.items():
        op.execute(f'CREATE INDEX {name} ON {table} ({columns})')


def _move_rows(old, table):
    """Copy the rows over, hand the id sequence to the new table, drop the old one."""
    op.execute(f'INSERT INTO {table} SELECT * FROM {old}')
    op.execute(f'ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id')
    op.execute(f'DROP TABLE {old}')


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, key, _days, indexes in TABLES:
        _unpartition(table, key, indexes)


def _unpartition(table, key, indexes):
    old = _set_aside(table, 'partitioned', indexes)
    op.execute(f'CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS)')
    _add_keys_and_indexes(table, 'id', indexes)
    _move_rows(old, table)  # metric_samples.id stays bigint: a higher id would not fit back
