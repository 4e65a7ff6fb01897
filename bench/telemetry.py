"""Benchmark: telemetry that grows without slowing (metric samples partitioned by day).

    .venv/bin/python bench/telemetry.py                          # 100 000 devices x 90 days, 4 samples a day
    .venv/bin/python bench/telemetry.py --devices 5000 --queries 50   # a quick try

Simulates 100 000 devices over 90 days on PostgreSQL at a reduced sample rate (--per-day, 4
by default where production takes 288: every 5 minutes), plus --chart-devices at the full
rate, whose 24-hour chart is what the device page reads. Its own database
(BENCH_TELEMETRY_DATABASE_URL, default the local `chamados_bench_telemetry`, recreated each
run), migrated by the real migrations, so metric_samples is partitioned as in production.
The same rows are copied, day by day, into `metric_samples_flat`: a plain table with the
same indexes, the layout before migration 0020, which is the baseline measured in the
same run.

The timeline moves forward: before each simulated day the partitions ahead are created as
the daily job does (partitions.ensure_ahead). At 30, 60 and 90 days of data it measures:
- the device page's 24-hour chart query (read_models.chart_points' SELECT) for random
  full-rate devices, p50/p95, on the partitioned table and on the plain one;
- the retention sweep that expires the oldest day: the app's retention.sweep (create the
  partitions ahead, drop the expired ones) against the plain table's batched DELETEs of the
  same rows (the sweep before 0020: 1 000-row batches, one transaction each). The next
  checkpoint seeds on from there, so the timeline spans 92 days in all.

Both figures must stay flat from 30 to 90 days. The last line scales the plain table's
DELETE rate to production's 28.8 million samples a day.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench._db import recreate_database  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_telemetry"
CHECKPOINTS = (30, 60, 90)
FULL_RATE_PER_DAY = 288  # one sample every 5 minutes (METRIC_SAMPLE_SECONDS)
PRODUCTION_ROWS_PER_DAY = 100_000 * FULL_RATE_PER_DAY
SWEEP_BATCH = 1000
CHART_SQL = (  # read_models.chart_points' statement
    "SELECT taken_at, cpu_percent, memory_percent FROM {table} "
    "WHERE machine_id = :machine AND taken_at BETWEEN :since AND :now ORDER BY taken_at LIMIT 2000"
)
FLAT_TABLE = """
CREATE TABLE metric_samples_flat (LIKE metric_samples INCLUDING DEFAULTS);
ALTER TABLE metric_samples_flat ADD PRIMARY KEY (id);
CREATE INDEX ix_flat_machine_taken ON metric_samples_flat (machine_id, taken_at);
CREATE INDEX ix_flat_taken_at ON metric_samples_flat (taken_at);
"""


def seed_devices(db, devices: int) -> None:
    db.session.execute(
        text(
            "INSERT INTO tenants (key, name, timezone, ticket_sequence, created_at) "
            "VALUES ('bench', 'Bench', 'America/Sao_Paulo', 0, now())"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO machines (tenant_id, hostname, created_at) "
            "SELECT 1, 'pc-' || n, now() FROM generate_series(1, :devices) n"
        ),
        {"devices": devices},
    )
    db.session.execute(text(FLAT_TABLE))
    db.session.commit()


def seed_day(db, day, devices: int, per_day: int, chart_devices: int) -> int:
    """One day of samples: every device at the reduced rate, the chart devices at the full one.
    Written to the partitioned table, then copied to the plain one. Returns the rows written."""
    from app.services import partitions

    partitions.ensure_ahead(partitions.TABLES["metric_samples"], day)  # what the daily job does
    values = (
        "SELECT m, CAST(:day AS timestamptz) + k * (interval '1 day' / :rate) + (m % 600) * interval '1 second', "
        "(m * 7 + k * 13) % 100, (m * 3 + k * 5) % 100, 40 + m % 50, 3600 * k"
    )
    written = 0
    for first, last, rate in ((chart_devices + 1, devices, per_day), (1, chart_devices, FULL_RATE_PER_DAY)):
        written += db.session.execute(
            text(
                "INSERT INTO metric_samples (machine_id, taken_at, cpu_percent, memory_percent, "
                f"disk_free_percent, uptime_seconds) {values} "
                "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) m, "
                "generate_series(0, CAST(:rate AS int) - 1) k"
            ),
            {"day": day, "rate": rate, "first": first, "last": last},
        ).rowcount
    db.session.execute(
        text(
            "INSERT INTO metric_samples_flat SELECT * FROM metric_samples "
            "WHERE taken_at >= :day AND taken_at < :next"
        ),
        {"day": day, "next": day + timedelta(days=1)},
    )
    db.session.commit()
    return written


def chart_query_ms(
    db, tables: tuple[str, ...], chart_devices: int, now, queries: int
) -> dict[str, list[float]]:
    """The chart's query on each table in turn, `queries` times each: p50/p95 input."""
    statements = {table: text(CHART_SQL.format(table=table)) for table in tables}
    timings = {table: [] for table in tables}
    for _ in range(queries):
        machine = random.randint(1, chart_devices)
        for table, statement in statements.items():
            started = time.perf_counter()
            rows = db.session.execute(
                statement, {"machine": machine, "since": now - timedelta(hours=24), "now": now}
            ).all()
            timings[table].append((time.perf_counter() - started) * 1000)
            assert len(rows) >= FULL_RATE_PER_DAY - 1, (table, machine, len(rows))  # a full day was read
    db.session.rollback()
    return timings


def vacuum(db) -> None:
    """What autovacuum does on a live database, done before measuring so that it does not run
    during the measurement (VACUUM cannot run inside a transaction)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("metric_samples", "metric_samples_flat"):
            connection.execute(text(f"VACUUM (ANALYZE) {table}"))


def partitioned_sweep_seconds(app, db, now, days_of_data: int) -> tuple[float, int]:
    """The app's retention sweep, with a retention that expires exactly the oldest day."""
    from app.services import retention, tenancy

    app.config["RETENTION_TELEMETRY_DAYS"] = days_of_data - 1
    started = time.perf_counter()
    with tenancy.all_tenants("bench: retention goes by age"):
        result = retention.sweep(now)
    return time.perf_counter() - started, result.dropped_partitions.get("metric_samples", 0)


def flat_sweep_seconds(db, cutoff) -> tuple[float, int]:
    """The sweep before partitions: 1 000 ids at a time, each batch its own transaction."""
    started, removed = time.perf_counter(), 0
    while True:
        ids = db.session.scalars(
            text("SELECT id FROM metric_samples_flat WHERE taken_at < :cutoff ORDER BY id LIMIT :batch"),
            {"cutoff": cutoff, "batch": SWEEP_BATCH},
        ).all()
        if not ids:
            break
        db.session.execute(text("DELETE FROM metric_samples_flat WHERE id = ANY(:ids)"), {"ids": list(ids)})
        db.session.commit()
        removed += len(ids)
    return time.perf_counter() - started, removed


def table_rows(db, table: str) -> int:
    return db.session.scalar(text(f"SELECT count(*) FROM {table}"))


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--per-day", type=int, default=4, help="samples a day per device (production: 288)")
    parser.add_argument("--chart-devices", type=int, default=50, help="devices sampled at the full rate")
    parser.add_argument("--queries", type=int, default=300, help="chart queries per checkpoint and table")
    args = parser.parse_args()

    url = os.environ.get("BENCH_TELEMETRY_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    os.environ.update(
        {"APP_ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "bench-" + "t" * 32, "LOG_LEVEL": "WARNING"}
    )
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models.types import utcnow
    from app.services import partitions

    app = create_app({"INSTANCE_PATH": ROOT / "instance" / "bench-telemetry"})
    metrics = partitions.TABLES["metric_samples"]
    with app.app_context():
        upgrade()
        seed_devices(db, args.devices)
        # Day 0 of the timeline; each checkpoint's sweep expires one day, so it spans 90 + 2 days.
        origin = metrics.start_of(utcnow()) - timedelta(days=CHECKPOINTS[-1] + len(CHECKPOINTS) - 1)
        print(
            f"{args.devices} devices, {args.per_day} samples a day each ({args.chart_devices} at "
            f"{FULL_RATE_PER_DAY}); partitioned metric_samples vs the plain metric_samples_flat"
        )
        header = (
            f"{'data':>5} {'rows':>12} {'chart p50/p95 ms':>22} {'sweep s':>18} {'expired rows':>13}\n"
            f"{'':>5} {'':>12} {'partitioned | plain':>22} {'partitioned | plain':>18}"
        )
        lines, seeded, seed_started, flat_rate = [], 0, time.perf_counter(), None
        for first, checkpoint in enumerate(CHECKPOINTS):  # `first`: the oldest day left
            while seeded - first < checkpoint:  # `checkpoint` days of data: days first .. seeded - 1
                seed_day(db, origin + timedelta(days=seeded), args.devices, args.per_day, args.chart_devices)
                seeded += 1
            vacuum(db)
            now = origin + timedelta(days=seeded)
            rows = table_rows(db, "metric_samples")
            timings = chart_query_ms(
                db, ("metric_samples", "metric_samples_flat"), args.chart_devices, now, args.queries
            )
            chart_partitioned, chart_flat = timings["metric_samples"], timings["metric_samples_flat"]

            sweep_partitioned, dropped = partitioned_sweep_seconds(app, db, now, checkpoint)
            assert dropped == 1, f"the sweep dropped {dropped} partitions, not the oldest day's one"
            sweep_flat, expired = flat_sweep_seconds(db, origin + timedelta(days=first + 1))
            flat_rate = expired / sweep_flat
            line = (
                f"{checkpoint:>3} d {rows:>12,} "
                f"{percentile(chart_partitioned, 0.5):>5.2f}/{percentile(chart_partitioned, 0.95):<5.2f}| "
                f"{percentile(chart_flat, 0.5):>4.2f}/{percentile(chart_flat, 0.95):<5.2f} "
                f"{sweep_partitioned:>7.3f} | {sweep_flat:<7.2f} {expired:>13,}"
            )
            lines.append(line)
            print(line if len(lines) > 1 else f"{header}\n{line}", flush=True)
        print(f"seeded and measured in {time.perf_counter() - seed_started:.0f} s")
        print(
            f"At production's {PRODUCTION_ROWS_PER_DAY:,} samples a day the plain table's batched DELETE "
            f"({flat_rate:,.0f} rows/s here) would take {PRODUCTION_ROWS_PER_DAY / flat_rate / 60:.0f} min "
            "per day of retention; the partitioned sweep drops a day whatever it holds."
        )


if __name__ == "__main__":
    main()
