"""Benchmark: the CSV export runner on a large ticket table (PostgreSQL).

    .venv/bin/python bench/exports.py                   # 200 000 tickets, all of them exported
    .venv/bin/python bench/exports.py --tickets 1000000

Seeds (or reuses) the ticket list bench's database, asks for an export of every
ticket, runs `report_export_runner` once and prints rows, seconds, rows/s, the
file size and how much the process's peak memory grew while it ran (the export
streams: memory must not grow with the table). Baseline: PostgreSQL's own
`COPY (SELECT the same columns) TO STDOUT (FORMAT csv)` of the same rows, read
by the same process; the ratio says what Python, the CSV writer and the labels cost.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ticket_list import DEFAULT_URL, ensure_database, seed  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    os.environ.update(
        {"APP_ENV": "testing", "DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 32, "LOG_LEVEL": "WARNING"}
    )
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import ReportExport, User
    from app.services import reports
    from app.services.ticket_filters import TicketFilters

    app = create_app(
        {
            "INSTANCE_PATH": ROOT / "instance" / "bench",
            "EXPORT_DIR": str(ROOT / "instance" / "bench" / "exports"),
            "REPORT_EXPORT_MAX_ROWS": 10_000_000,
        }
    )
    with app.app_context():
        upgrade()
        tenant_id = seed(db, args.tickets)
        admin = db.session.scalar(select(User).where(User.tenant_id == tenant_id, User.role == "admin"))
        db.session.query(ReportExport).delete()
        db.session.commit()

        # Baseline: PostgreSQL's COPY of the same columns and rows, streamed into this process.
        started = time.perf_counter()
        copied = 0
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            copy_sql = (
                "COPY (SELECT t.reference, t.subject, t.status, t.priority, q.name, c.apelido, r.name, r.email, "
                "a.name, t.created_at, t.updated_at, t.resolved_at, t.worked_seconds FROM tickets t "
                "JOIN queues q ON q.id = t.queue_id LEFT JOIN companies c ON c.id = t.company_id "
                "JOIN users r ON r.id = t.requester_id LEFT JOIN users a ON a.id = t.assignee_id "
                f"WHERE t.tenant_id = {int(tenant_id)} ORDER BY t.created_at DESC, t.id DESC) "
                "TO STDOUT (FORMAT csv)"
            )
            with cursor.copy(copy_sql) as copy:
                for chunk in copy:
                    copied += len(chunk)
        db.session.commit()
        baseline = time.perf_counter() - started

        export = reports.request_export(admin, TicketFilters())
        rss_before = peak_rss_mb()
        started = time.perf_counter()
        outcome = reports.run_pending_exports()
        elapsed = time.perf_counter() - started
        rss_growth = peak_rss_mb() - rss_before
        db.session.refresh(export)

    print(f"\nexport of {export.row_count:,} tickets ({outcome.summary})")
    print(
        f"  runner:   {elapsed:6.2f} s  {export.row_count / elapsed:10,.0f} rows/s  file {export.file_size / 1e6:.1f} MB"
    )
    print(f"  baseline: {baseline:6.2f} s  (PostgreSQL COPY of the same rows, {copied / 1e6:.1f} MB)")
    print(f"  ratio to baseline: {elapsed / baseline:.1f}x")
    print(f"  peak memory growth during the export: {rss_growth:.1f} MB")


if __name__ == "__main__":
    main()
