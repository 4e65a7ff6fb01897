"""Retention (seed 000 §14): telemetry 90 days, alerts 180 days, export runs 30 days,
tickets never.

`overdue_counts` is what Saúde and `flask maintenance --dry-run` show; `sweep`
deletes in bounded batches (one short transaction each) so a sweep never holds
locks on a busy table for long. The newest inventory of each device is kept
whatever its age: inventories are stored only when they change, so a device that
has not changed in 90 days would otherwise lose its inventory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import (
    AuditLog,
    ChangeEvent,
    InventorySnapshot,
    JobRun,
    MachineAlert,
    MetricSample,
    ReportExport,
)
from app.models.types import utcnow
from app.services.job_runs import JobOutcome

SWEEP_BATCH = 1000
MAX_BATCHES_PER_TABLE = 200  # 200 000 rows per table per run; the next run carries on


@dataclass(frozen=True)
class RetentionRule:
    table: str
    label: str
    days_setting: str

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=current_app.config[self.days_setting])


RULES = (
    RetentionRule("inventory_snapshots", "Inventários (histórico)", "RETENTION_TELEMETRY_DAYS"),
    RetentionRule("metric_samples", "Amostras de métricas", "RETENTION_TELEMETRY_DAYS"),
    RetentionRule("machine_alerts", "Alertas resolvidos", "RETENTION_ALERT_DAYS"),
    RetentionRule("report_exports", "Exportações de relatórios", "RETENTION_EXPORT_DAYS"),
    RetentionRule("job_runs", "Execuções de tarefas", "RETENTION_EXPORT_DAYS"),
    RetentionRule("audit_logs", "Registros de auditoria", "AUDIT_LOG_RETENTION_DAYS"),
    RetentionRule("change_events", "Eventos das telas ao vivo", "RETENTION_FEED_DAYS"),
)


def _newest_inventory_ids():
    return select(func.max(InventorySnapshot.id)).group_by(InventorySnapshot.machine_id)


def _overdue_ids(table: str, cutoff: datetime):
    """A SELECT of the ids past retention in `table`."""
    if table == "inventory_snapshots":
        return select(InventorySnapshot.id).where(
            InventorySnapshot.created_at < cutoff, InventorySnapshot.id.not_in(_newest_inventory_ids())
        )
    if table == "metric_samples":
        return select(MetricSample.id).where(MetricSample.taken_at < cutoff)
    if table == "machine_alerts":
        # Open alerts are current state, never history.
        return select(MachineAlert.id).where(
            MachineAlert.resolved_at.is_not(None), MachineAlert.resolved_at < cutoff
        )
    if table == "report_exports":
        return select(ReportExport.id).where(ReportExport.created_at < cutoff)
    if table == "job_runs":
        return select(JobRun.id).where(JobRun.finished_at < cutoff)
    if table == "audit_logs":
        return select(AuditLog.id).where(AuditLog.created_at < cutoff)
    if table == "change_events":
        return select(ChangeEvent.id).where(ChangeEvent.created_at < cutoff)
    raise ValueError(table)


MODELS = {
    "inventory_snapshots": InventorySnapshot,
    "metric_samples": MetricSample,
    "machine_alerts": MachineAlert,
    "report_exports": ReportExport,
    "job_runs": JobRun,
    "audit_logs": AuditLog,
    "change_events": ChangeEvent,
}


def overdue_counts(now: datetime | None = None) -> dict[str, int]:
    """Rows past their retention, per table (what a sweep would delete)."""
    now = now or utcnow()
    return {
        rule.table: db.session.scalar(
            select(func.count()).select_from(_overdue_ids(rule.table, rule.cutoff(now)).subquery())
        )
        for rule in RULES
    }


@dataclass
class SweepResult:
    deleted: dict[str, int] = field(default_factory=dict)
    has_more: bool = False
    dry_run: bool = False

    def outcome(self) -> JobOutcome:
        verb = "a remover" if self.dry_run else "removidas"
        parts = ", ".join(f"{table}={count}" for table, count in self.deleted.items())
        changed = 0 if self.dry_run else sum(self.deleted.values())
        return JobOutcome(changed=changed, summary=f"linhas {verb}: {parts}", has_more=self.has_more)


def sweep(now: datetime | None = None, *, dry_run: bool = False, batch: int = SWEEP_BATCH) -> SweepResult:
    now = now or utcnow()
    if dry_run:
        return SweepResult(deleted=overdue_counts(now), dry_run=True)
    result = SweepResult()
    for rule in RULES:
        result.deleted[rule.table] = 0
        for _ in range(MAX_BATCHES_PER_TABLE):
            removed = _delete_batch(rule, now, batch)
            result.deleted[rule.table] += removed
            if removed < batch:
                break
        else:
            result.has_more = True
    return result


def _delete_batch(rule: RetentionRule, now: datetime, batch: int) -> int:
    model = MODELS[rule.table]
    ids = list(db.session.scalars(_overdue_ids(rule.table, rule.cutoff(now)).order_by(model.id).limit(batch)))
    if not ids:
        return 0
    if model is ReportExport:
        _remove_export_files(ids)
    db.session.execute(delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
    # One short transaction per batch, not one per run: a sweep never holds a busy table's locks long.
    db.session.commit()
    return len(ids)


def _remove_export_files(ids: list[int]) -> None:
    from app.services.reports import export_path

    for export in db.session.scalars(select(ReportExport).where(ReportExport.id.in_(ids))):
        if export.file_name:
            Path(export_path(export)).unlink(missing_ok=True)
