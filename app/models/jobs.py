"""What the background jobs leave behind: one row per job run (for the Tarefas
page) and the staff's CSV report exports.

Job runs that changed nothing are folded into the previous "nothing to do" row
of the same job (a counter and a timestamp) instead of adding a row each minute:
the seed's `_scheduled_job_logs` grew by 1 440 rows a day from a one-minute
cron, and that is what we must not repeat.
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import UTCDateTime, utcnow
from app.models.user import enum_column


class JobRunStatus(enum.StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def label(self) -> str:
        return "Concluída" if self is JobRunStatus.SUCCEEDED else "Falhou"


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    # schedule (cron / in-process scheduler), http (POST /api/cron/<job>), manual (Tarefas, CLI), enqueue
    trigger: Mapped[str] = mapped_column(String(20))
    status: Mapped[JobRunStatus] = mapped_column(enum_column(JobRunStatus))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(default=0)
    attempt: Mapped[int] = mapped_column(default=1)
    changed: Mapped[int] = mapped_column(default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    # How many further runs with nothing to do were folded into this row.
    repeats: Mapped[int] = mapped_column(default=0)


class ExportStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"

    @property
    def label(self) -> str:
        return {
            "PENDING": "Na fila",
            "RUNNING": "Gerando",
            "DONE": "Pronto",
            "FAILED": "Falhou",
        }[self.value]


class ReportExport(TenantOwned, db.Model):
    """A CSV of the tickets matching a list filter, built by the report_export_runner job."""

    __tablename__ = "report_exports"
    __table_args__ = (
        Index("ix_report_exports_tenant_created", "tenant_id", "created_at"),
        Index("ix_report_exports_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The ticket list's canonical query string (TicketFilters.query_string()).
    filters_query: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ExportStatus] = mapped_column(enum_column(ExportStatus), default=ExportStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    row_count: Mapped[int | None] = mapped_column()
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_size: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by = relationship("User")
