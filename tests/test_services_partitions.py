"""Time partitions of the telemetry tables on PostgreSQL: created ahead, dropped whole past
retention, a device's current inventory kept, a row beyond the partitions still written."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import InventorySnapshot, MetricSample
from app.models.types import utcnow
from app.services import partitions, retention
from app.services.tenancy import all_tenants

METRICS = partitions.TABLES["metric_samples"]
INVENTORIES = partitions.TABLES["inventory_snapshots"]


@pytest.fixture
def on_postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the telemetry tables are partitioned only on PostgreSQL")


@pytest.fixture
def own_partitions(on_postgres):
    """Drop, after the test, the partitions it created (the schema outlives the test's rows)."""
    before = {
        spec.name: set(partitions.existing_partitions(spec).values()) for spec in partitions.TABLES.values()
    }
    yield
    db.session.rollback()
    for spec in partitions.TABLES.values():
        for name in set(partitions.existing_partitions(spec).values()) - before[spec.name]:
            db.session.execute(text(f"DROP TABLE {name}"))
    db.session.commit()


def partition_of(model, row_id) -> str:
    return db.session.scalar(
        text(f"SELECT tableoid::regclass::text FROM {model.__tablename__} WHERE id = :id"), {"id": row_id}
    )


def test_the_tables_are_partitioned_from_today_to_a_week_ahead(on_postgres):
    now = utcnow()
    for spec in (METRICS, INVENTORIES):
        assert partitions.partitioned(spec.name) == spec
        starts = partitions.existing_partitions(spec)
        assert spec.start_of(now) in starts
        assert spec.start_of(now + timedelta(days=partitions.AHEAD_DAYS)) in starts
    assert partitions.partitioned("tickets") is None


def test_a_sample_of_today_is_written_to_todays_partition(make_machine, on_postgres):
    machine = make_machine()
    sample = MetricSample(machine_id=machine.id, taken_at=utcnow(), cpu_percent=12.5)
    db.session.add(sample)
    db.session.commit()
    assert partition_of(MetricSample, sample.id) == METRICS.partition_name(METRICS.start_of(utcnow()))


def test_the_sweep_drops_expired_days_whole_and_keeps_the_day_of_the_cutoff(make_machine, own_partitions):
    machine = make_machine()
    now = utcnow()
    cutoff = now - timedelta(days=90)
    expired_day, cutoff_day = METRICS.start_of(cutoff - timedelta(days=2)), METRICS.start_of(cutoff)
    for day in (expired_day, cutoff_day):
        partitions.create_partition(METRICS, day)
    db.session.add_all(
        [MetricSample(machine_id=machine.id, taken_at=expired_day + timedelta(hours=h)) for h in range(24)]
        + [MetricSample(machine_id=machine.id, taken_at=cutoff_day + timedelta(minutes=1))]  # past the cutoff
        + [MetricSample(machine_id=machine.id, taken_at=now)]
    )
    db.session.commit()
    db.session.execute(text(f"ANALYZE {METRICS.partition_name(expired_day)}"))

    with all_tenants("retention"):
        result = retention.sweep(now)

    starts = partitions.existing_partitions(METRICS)
    assert expired_day not in starts
    assert cutoff_day in starts
    assert result.dropped_partitions["metric_samples"] == 1
    assert result.deleted["metric_samples"] == 24  # the dropped day's rows, as PostgreSQL counted them
    remaining = db.session.scalars(select(MetricSample.taken_at).order_by(MetricSample.taken_at)).all()
    # The sample just past the cutoff waits for its whole day to expire; today's is untouched.
    assert remaining == [cutoff_day + timedelta(minutes=1), now]


def test_a_device_keeps_its_only_inventory_when_its_week_is_dropped(make_machine, own_partitions):
    now = utcnow()
    old_week = INVENTORIES.start_of(now - timedelta(days=120))
    partitions.create_partition(INVENTORIES, old_week)
    quiet, changed = (
        make_machine("pc-quieto", inventory_hash="q1"),
        make_machine("pc-mudou", inventory_hash="c2"),
    )
    kept = InventorySnapshot(machine_id=quiet.id, content_hash="q1", inventory={"v": 1}, created_at=old_week)
    superseded = InventorySnapshot(
        machine_id=changed.id, content_hash="c1", inventory={"v": 1}, created_at=old_week
    )
    current = InventorySnapshot(machine_id=changed.id, content_hash="c2", inventory={"v": 2}, created_at=now)
    db.session.add_all([kept, superseded, current])
    db.session.commit()

    with all_tenants("retention"):
        retention.sweep(now)

    assert old_week not in partitions.existing_partitions(INVENTORIES)
    rows = db.session.execute(select(InventorySnapshot.machine_id, InventorySnapshot.content_hash)).all()
    assert sorted(rows) == sorted([(quiet.id, "q1"), (changed.id, "c2")])
    assert partition_of(InventorySnapshot, kept.id) == INVENTORIES.default_partition

    # Once the quiet device reports a new inventory, the next sweep lets the old one go.
    db.session.add(
        InventorySnapshot(machine_id=quiet.id, content_hash="q2", inventory={"v": 2}, created_at=now)
    )
    quiet.inventory_hash = "q2"
    db.session.commit()
    with all_tenants("retention"):
        result = retention.sweep(now)
    assert result.deleted["inventory_snapshots"] == 1
    assert db.session.scalar(select(func.count()).where(InventorySnapshot.machine_id == quiet.id)) == 1


def test_a_sample_beyond_the_partitions_is_written_and_moves_in_when_its_day_is_created(
    make_machine, own_partitions
):
    machine = make_machine()
    later = utcnow() + timedelta(days=40)
    sample = MetricSample(machine_id=machine.id, taken_at=later, cpu_percent=1.0)
    db.session.add(sample)
    db.session.commit()
    assert partition_of(MetricSample, sample.id) == METRICS.default_partition

    created = partitions.ensure_ahead(METRICS, later - timedelta(days=1), ahead_days=2)
    db.session.commit()

    assert METRICS.partition_name(METRICS.start_of(later)) in created
    assert partition_of(MetricSample, sample.id) == METRICS.partition_name(METRICS.start_of(later))
    assert db.session.scalar(select(func.count()).select_from(MetricSample)) == 1


def test_the_dry_run_counts_what_the_sweep_would_drop_without_dropping_it(make_machine, own_partitions):
    machine = make_machine()
    now = utcnow()
    expired_day = METRICS.start_of(now - timedelta(days=95))
    partitions.create_partition(METRICS, expired_day)
    db.session.add_all([MetricSample(machine_id=machine.id, taken_at=expired_day) for _ in range(10)])
    db.session.commit()
    db.session.execute(text(f"ANALYZE {METRICS.partition_name(expired_day)}"))

    with all_tenants("retention"):
        counts = retention.overdue_counts(now)

    assert counts["metric_samples"] == 10
    assert expired_day in partitions.existing_partitions(METRICS)


def test_the_weekly_partitions_start_on_monday_and_the_daily_ones_at_midnight_utc():
    from datetime import UTC, datetime

    thursday_evening = datetime(2026, 12, 3, 22, 15, tzinfo=UTC)
    assert INVENTORIES.start_of(thursday_evening) == datetime(2026, 11, 30, tzinfo=UTC)
    assert METRICS.start_of(thursday_evening) == datetime(2026, 12, 3, tzinfo=UTC)
    assert METRICS.partition_name(datetime(2026, 12, 3, tzinfo=UTC)) == "metric_samples_p20261203"
