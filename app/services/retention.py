"""Retention (seed 000 §14): telemetry 90 days, alerts 180 days, export runs 30 days,
tickets never.

`overdue_counts` is what Saúde and `flask maintenance --dry-run` show; `sweep`
deletes in bounded batches (one short transaction each) so a sweep never holds
locks on a busy table for long. The newest inventory of each device is kept
whatever its age: inventories are stored only when they change, so a device that
has not changed in 90 days would otherwise lose its inventory.

On PostgreSQL the telemetry tables are partitioned by time (app/services/partitions.py):
the sweep first creates the coming week's partitions, then drops the partitions past
retention whole, and its batched DELETEs only see what the DEFAULT partition holds.
Their retention is therefore counted in whole partitions: a metric sample goes on the
first sweep after its day has fully expired.
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
from app.services import partitions
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


def _superseded(snapshot):
    """A later inventory of the same device exists (the index on machine and time answers it)."""
    newer = InventorySnapshot.__table__.alias("newer")
    return (
        select(newer.c.id)
        .where(newer.c.machine_id == snapshot.c.machine_id, newer.c.created_at > snapshot.c.created_at)
        .exists()
    )


def _overdue_ids(table: str, cutoff: datetime, source=None):
    """A SELECT of the ids past retention in `table`; of a telemetry table, read from
    `source` when given (its DEFAULT partition: the expired partitions are dropped whole)."""
    if table == "inventory_snapshots":
        rows = InventorySnapshot.__table__ if source is None else source
        return select(rows.c.id).where(rows.c.created_at < cutoff, _superseded(rows))
    if table == "metric_samples":
        rows = MetricSample.__table__ if source is None else source
        return select(rows.c.id).where(rows.c.taken_at < cutoff)
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
    """Rows past their retention, per table (what a sweep would delete). For a partitioned
    table: PostgreSQL's estimate of the expired partitions' rows (counting them would read
    millions) plus the exact count of what waits in its DEFAULT partition."""
    now = now or utcnow()
    counts = {}
    for rule in RULES:
        cutoff, source, estimated = rule.cutoff(now), None, 0
        spec = partitions.partitioned(rule.table)
        if spec is not None:
            cutoff = spec.start_of(cutoff)
            source = partitions.default_partition_of(spec, MODELS[rule.table].__table__)
            estimated = partitions.expired_rows(spec, cutoff)
        counts[rule.table] = estimated + db.session.scalar(
            select(func.count()).select_from(_overdue_ids(rule.table, cutoff, source).subquery())
        )
    return counts


@dataclass
class SweepResult:
    deleted: dict[str, int] = field(default_factory=dict)
    dropped_partitions: dict[str, int] = field(default_factory=dict)
    created_partitions: int = 0
    has_more: bool = False
    dry_run: bool = False

    def outcome(self) -> JobOutcome:
        verb = "a remover" if self.dry_run else "removidas"
        parts = ", ".join(
            f"{table}={count}{self._partitions_note(table)}" for table, count in self.deleted.items()
        )
        summary = f"linhas {verb}: {parts}"
        if self.created_partitions:
            summary += f"; partições criadas: {self.created_partitions}"
        changed = 0 if self.dry_run else sum(self.deleted.values()) + self.created_partitions
        return JobOutcome(changed=changed, summary=summary, has_more=self.has_more)

    def _partitions_note(self, table: str) -> str:
        dropped = self.dropped_partitions.get(table)
        return f" (estimadas; {dropped} partições apagadas)" if dropped else ""


def sweep(now: datetime | None = None, *, dry_run: bool = False, batch: int = SWEEP_BATCH) -> SweepResult:
    now = now or utcnow()
    if dry_run:
        return SweepResult(deleted=overdue_counts(now), dry_run=True)
    result = SweepResult()
    for rule in RULES:
        cutoff, source = rule.cutoff(now), None
        result.deleted[rule.table] = 0
        spec = partitions.partitioned(rule.table)
        if spec is not None:
            source = partitions.default_partition_of(spec, MODELS[rule.table].__table__)
            # Ahead of the writes, which carry the wall clock's time whatever `now` the sweep was given.
            result.created_partitions += len(partitions.ensure_ahead(spec, utcnow()))
            db.session.commit()
            cutoff = spec.start_of(cutoff)
            dropped = partitions.drop_expired(spec, cutoff)
            result.deleted[rule.table] += dropped.rows
            result.dropped_partitions[rule.table] = len(dropped.partitions)
        # What is left past the cutoff: on a partitioned table, only rows in its DEFAULT partition.
        for _ in range(MAX_BATCHES_PER_TABLE):
            removed = _delete_batch(rule, cutoff, batch, source)
            result.deleted[rule.table] += removed
            if removed < batch:
                break
        else:
            result.has_more = True
    return result


def _delete_batch(rule: RetentionRule, cutoff: datetime, batch: int, source=None) -> int:
    model = MODELS[rule.table]
    query = _overdue_ids(rule.table, cutoff, source)
    ids = list(db.session.scalars(query.order_by(query.selected_columns[0]).limit(batch)))
    if not ids:
        return 0
    if model is ReportExport:
        _remove_export_files(ids)
    statement = delete(model).where(model.id.in_(ids))
    if rule.table in partitions.TABLES:
        # The partition key lets PostgreSQL look in the partitions before the cutoff only.
        statement = statement.where(getattr(model, partitions.TABLES[rule.table].column) < cutoff)
    db.session.execute(statement.execution_options(synchronize_session=False))
    # One short transaction per batch, not one per run: a sweep never holds a busy table's locks long.
    db.session.commit()
    return len(ids)


def _remove_export_files(ids: list[int]) -> None:
    from app.services.reports import export_path

    for export in db.session.scalars(select(ReportExport).where(ReportExport.id.in_(ids))):
        if export.file_name:
            Path(export_path(export)).unlink(missing_ok=True)
