"""Time partitions of the telemetry tables on PostgreSQL (migration 0020).

At 100 000 devices sampled every 5 minutes, metric_samples grows by 28.8 million rows a day:
deleting 90-day-old rows in batches would never keep up. On PostgreSQL the table is
partitioned by time (one partition per UTC day; inventory_snapshots one per week), so
retention drops whole partitions, a catalogue operation whatever their size, and the daily
retention job creates the partitions of the coming week ahead of the writes.

Each table also has a DEFAULT partition. It catches a row no partition covers (a week
without the daily job, a timestamp far in the future), so a write never fails for want of a
partition; `ensure_ahead` moves such rows into the partition it creates for them. For
inventory_snapshots it also keeps, past retention, each device's newest inventory (stored
only on change, so a device unchanged for 90 days would otherwise lose it): before a week
is dropped, its devices' newest snapshots are copied into the DEFAULT partition.

SQLite keeps plain tables and today's batched DELETEs (app/services/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, column, table, text

from app.extensions import db
from app.models.schema_support import PARTITION_TABLE

AHEAD_DAYS = 7  # partitions exist at least this far ahead of now
LOCK_TIMEOUT = "5s"  # a drop or create waits at most this long behind a running query
EPOCH_MONDAY = datetime(2024, 1, 1, tzinfo=UTC)  # weekly partitions start on Mondays, UTC


@dataclass(frozen=True)
class PartitionedTable:
    name: str
    column: str  # the partition key
    days: int  # the width of one partition

    def start_of(self, moment: datetime) -> datetime:
        """The start of the partition holding `moment`."""
        midnight = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=(midnight - EPOCH_MONDAY).days % self.days)

    def partition_name(self, start: datetime) -> str:
        return f"{self.name}_p{start:%Y%m%d}"

    @property
    def default_partition(self) -> str:
        return f"{self.name}_default"


TABLES = {
    "metric_samples": PartitionedTable("metric_samples", "taken_at", 1),
    "inventory_snapshots": PartitionedTable("inventory_snapshots", "created_at", 7),
}


def partitioned(table: str) -> PartitionedTable | None:
    """The table's partitioning, or None where it is a plain table (SQLite)."""
    spec = TABLES.get(table)
    if spec is None or db.session.get_bind().dialect.name != "postgresql":
        return None
    found = db.session.execute(
        text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:table)"), {"table": table}
    ).first()
    return spec if found else None


def existing_partitions(spec: PartitionedTable) -> dict[datetime, str]:
    """The table's dated partitions by start, oldest first (the DEFAULT one is not listed)."""
    names = db.session.scalars(
        text(
            "SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = to_regclass(:table)"
        ),
        {"table": spec.name},
    ).all()
    starts = {}
    for name in names:
        match = PARTITION_TABLE.match(name)
        if match and match["start"]:
            starts[datetime.strptime(match["start"], "%Y%m%d").replace(tzinfo=UTC)] = name
    return dict(sorted(starts.items()))


def ensure_ahead(spec: PartitionedTable, now: datetime, ahead_days: int = AHEAD_DAYS) -> list[str]:
    """Create the partitions from the current one to `ahead_days` ahead; the names created."""
    have = existing_partitions(spec)
    created = []
    start = spec.start_of(now)
    while start <= now + timedelta(days=ahead_days):
        if start not in have:
            create_partition(spec, start)
            created.append(spec.partition_name(start))
        start += timedelta(days=spec.days)
    return created


def create_partition(spec: PartitionedTable, start: datetime) -> None:
    """One partition, [start, start + width). Rows of that range waiting in the DEFAULT
    partition move into it (PostgreSQL refuses to create it over them otherwise)."""
    end = start + timedelta(days=spec.days)
    bounds = {"start": start, "end": end}
    name, default, column = spec.partition_name(start), spec.default_partition, spec.column
    db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    waiting = db.session.execute(
        text(f"SELECT 1 FROM {default} WHERE {column} >= :start AND {column} < :end LIMIT 1"), bounds
    ).first()
    if waiting:
        db.session.execute(text(f"CREATE TEMPORARY TABLE moving_rows (LIKE {spec.name}) ON COMMIT DROP"))
        db.session.execute(
            text(
                f"WITH moved AS (DELETE FROM {default} WHERE {column} >= :start AND {column} < :end "
                "RETURNING *) INSERT INTO moving_rows SELECT * FROM moved"
            ),
            bounds,
        )
    db.session.execute(
        text(
            f"CREATE TABLE {name} PARTITION OF {spec.name} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    if waiting:
        db.session.execute(text(f"INSERT INTO {spec.name} SELECT * FROM moving_rows"))
        db.session.execute(text("DROP TABLE moving_rows"))


def default_partition_of(spec: PartitionedTable, parent: Table):
    """The DEFAULT partition as a table to SELECT from (the parent's columns, its name)."""
    return table(spec.default_partition, *(column(c.name, c.type) for c in parent.c))


@dataclass
class Dropped:
    partitions: list[str]
    rows: int  # PostgreSQL's estimate (pg_class.reltuples): counting would read every row


def drop_expired(spec: PartitionedTable, cutoff: datetime) -> Dropped:
    """Drop every partition that ends at or before `cutoff`, in one transaction per partition.
    Rows of the partition that holds the cutoff stay until it has all expired (a day at most
    for metric samples, a week for inventories)."""
    dropped = Dropped([], 0)
    for start, name in existing_partitions(spec).items():
        if start + timedelta(days=spec.days) > cutoff:
            break
        dropped.rows += _estimated_rows(name)
        db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        if spec.name == "inventory_snapshots":
            _keep_newest_inventories(spec, name)
        else:
            db.session.execute(text(f"DROP TABLE {name}"))
        db.session.commit()
        dropped.partitions.append(name)
    return dropped


def _keep_newest_inventories(spec: PartitionedTable, name: str) -> None:
    """Detach the week, copy the snapshots that are still their device's current inventory
    (the content hash the device row holds, the newest of them) into the parent, where no
    dated partition covers them any more so they land in DEFAULT, and drop the week."""
    db.session.execute(text(f"ALTER TABLE {spec.name} DETACH PARTITION {name}"))
    db.session.execute(
        text(
            f"INSERT INTO {spec.name} SELECT DISTINCT ON (snapshot.machine_id) snapshot.* "
            f"FROM {name} snapshot "
            "JOIN machines ON machines.id = snapshot.machine_id "
            "AND machines.inventory_hash = snapshot.content_hash "
            "ORDER BY snapshot.machine_id, snapshot.created_at DESC, snapshot.id DESC"
        )
    )
    db.session.execute(text(f"DROP TABLE {name}"))


def _estimated_rows(name: str) -> int:
    estimate = db.session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": name}
    )
    return max(int(estimate or 0), 0)


def expired_rows(spec: PartitionedTable, cutoff: datetime) -> int:
    """The estimated rows of the partitions `drop_expired(spec, cutoff)` would drop."""
    return sum(
        _estimated_rows(name)
        for start, name in existing_partitions(spec).items()
        if start + timedelta(days=spec.days) <= cutoff
    )


@dataclass(frozen=True)
class PartitionStatus:
    """What Saúde shows of a partitioned table."""

    width_label: str  # "diárias" / "semanais"
    count: int
    ready_until: datetime | None  # the end of the furthest partition
    behind: bool  # fewer than two days are covered ahead: the daily job has not been running


def status(spec: PartitionedTable, now: datetime) -> PartitionStatus:
    starts = list(existing_partitions(spec))
    ready_until = starts[-1] + timedelta(days=spec.days) if starts else None
    return PartitionStatus(
        width_label="diárias" if spec.days == 1 else "semanais",
        count=len(starts),
        ready_until=ready_until,
        behind=ready_until is None or ready_until < now + timedelta(days=2),
    )
