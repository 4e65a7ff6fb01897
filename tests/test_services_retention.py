"""Retention: telemetry 90 days, resolved alerts 180 days, exports and job runs 30 days, tickets never."""

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    ChangeEvent,
    ExportStatus,
    InventorySnapshot,
    JobRun,
    JobRunStatus,
    MachineAlert,
    MetricSample,
    ReportExport,
    Ticket,
)
from app.models.types import utcnow
from app.services import retention


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def seed_old_and_new(make_machine, make_ticket, admin_user, tenant, app):
    now = utcnow()
    old, recent = now - timedelta(days=100), now - timedelta(days=10)
    machine, quiet = make_machine("pc-01"), make_machine("pc-quieto")
    db.session.add_all(
        [
            InventorySnapshot(machine_id=machine.id, content_hash="a", inventory={"v": 1}, created_at=old),
            InventorySnapshot(machine_id=machine.id, content_hash="b", inventory={"v": 2}, created_at=recent),
            # The only inventory of a device that has not changed in 100 days: it is its current one.
            InventorySnapshot(machine_id=quiet.id, content_hash="c", inventory={"v": 3}, created_at=old),
        ]
        + [MetricSample(machine_id=machine.id, taken_at=old + timedelta(minutes=i)) for i in range(5)]
        + [MetricSample(machine_id=machine.id, taken_at=recent)]
        + [
            MachineAlert(
                tenant_id=tenant.id,
                machine_id=machine.id,
                kind="antigo",
                opened_at=now - timedelta(days=400),
                resolved_at=now - timedelta(days=200),
            ),
            MachineAlert(
                tenant_id=tenant.id, machine_id=machine.id, kind="aberto", opened_at=now - timedelta(days=400)
            ),
            MachineAlert(
                tenant_id=tenant.id, machine_id=machine.id, kind="recente", opened_at=old, resolved_at=recent
            ),
        ]
    )
    export_dir = Path(app.config["EXPORT_DIR"]) / str(tenant.id)
    export_dir.mkdir(parents=True, exist_ok=True)
    (export_dir / "velho.csv").write_text("x")
    db.session.add_all(
        [
            ReportExport(
                tenant_id=tenant.id,
                requested_by_id=admin_user.id,
                status=ExportStatus.DONE,
                file_name="velho.csv",
                created_at=now - timedelta(days=31),
            ),
            ReportExport(tenant_id=tenant.id, requested_by_id=admin_user.id, created_at=recent),
            JobRun(
                job="chat_cleanup",
                trigger="schedule",
                status=JobRunStatus.SUCCEEDED,
                started_at=now - timedelta(days=40),
                finished_at=now - timedelta(days=40),
            ),
            JobRun(job="chat_cleanup", trigger="schedule", status=JobRunStatus.SUCCEEDED),
            # Audit rows: AUDIT_LOG_RETENTION_DAYS (90) by default.
            AuditLog(tenant_id=tenant.id, action="login.sucesso", created_at=now - timedelta(days=91)),
            AuditLog(tenant_id=tenant.id, action="login.sucesso", created_at=now - timedelta(days=89)),
            # The live screens' feed: RETENTION_FEED_DAYS (2).
            ChangeEvent(
                tenant_id=tenant.id, seq=900, kind="ticket.status", created_at=now - timedelta(days=3)
            ),
            ChangeEvent(
                tenant_id=tenant.id, seq=901, kind="ticket.status", created_at=now - timedelta(days=1)
            ),
        ]
    )
    ancient = make_ticket("Resolvido há 3 anos")
    ancient.created_at = now - timedelta(days=1100)
    db.session.commit()
    return export_dir / "velho.csv"


def test_dry_run_counts_what_is_past_retention_and_deletes_nothing(
    make_machine, make_ticket, admin_user, tenant, app
):
    seed_old_and_new(make_machine, make_ticket, admin_user, tenant, app)
    result = retention.sweep(dry_run=True)
    assert result.deleted == {
        "inventory_snapshots": 1,
        "metric_samples": 5,
        "machine_alerts": 1,
        "report_exports": 1,
        "job_runs": 1,
        "audit_logs": 1,
        "change_events": 1,
    }
    assert count(MetricSample) == 6 and count(InventorySnapshot) == 3
    assert "a remover" in result.outcome().summary and result.outcome().changed == 0


def test_sweep_removes_only_old_rows_and_never_tickets(make_machine, make_ticket, admin_user, tenant, app):
    old_file = seed_old_and_new(make_machine, make_ticket, admin_user, tenant, app)
    result = retention.sweep(batch=2)  # several batches per table
    assert result.deleted["metric_samples"] == 5 and not result.has_more
    assert count(MetricSample) == 1
    hashes = set(db.session.scalars(select(InventorySnapshot.content_hash)))
    assert hashes == {"b", "c"}  # the quiet device keeps its only (current) inventory
    assert set(db.session.scalars(select(MachineAlert.kind))) == {"aberto", "recente"}
    assert count(ReportExport) == 1 and not old_file.exists()
    assert count(JobRun) == 1
    assert count(AuditLog) == 1  # the 89-day-old one stays
    assert set(db.session.scalars(select(ChangeEvent.seq))) >= {901} and 900 not in set(
        db.session.scalars(select(ChangeEvent.seq))
    )
    assert count(Ticket) == 1
    assert retention.overdue_counts() == dict.fromkeys(result.deleted, 0)
    # Running it again finds nothing: the job is idempotent.
    assert sum(retention.sweep().deleted.values()) == 0


def test_a_bounded_run_reports_that_more_remains(make_machine, monkeypatch):
    machine = make_machine()
    old = utcnow() - timedelta(days=120)
    db.session.add_all(
        [MetricSample(machine_id=machine.id, taken_at=old + timedelta(seconds=i)) for i in range(7)]
    )
    db.session.commit()
    monkeypatch.setattr(retention, "MAX_BATCHES_PER_TABLE", 2)
    first = retention.sweep(batch=3)
    assert first.deleted["metric_samples"] == 6 and first.has_more
    second = retention.sweep(batch=3)
    assert second.deleted["metric_samples"] == 1 and not second.has_more
