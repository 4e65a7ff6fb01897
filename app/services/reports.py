"""Relatórios: CSV exports of the ticket list, built in the background.

Staff ask for an export of what the list currently shows (its filters); the
`report_export_runner` job builds the file row by row from a streaming query
(never the whole table in memory), and the requester downloads it from
Relatórios. Files and their rows go after RETENTION_EXPORT_DAYS (retention sweep).
"""

from __future__ import annotations

import csv
import os
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import aliased
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import (
    Company,
    ExportStatus,
    Queue,
    ReportExport,
    Ticket,
    TicketPriority,
    TicketStatus,
    User,
)
from app.models.types import utcnow
from app.services import tenancy
from app.services.errors import Conflict, NotFound, PermissionDenied
from app.services.job_runs import JobOutcome
from app.services.permissions import can
from app.services.ticket_filters import SORT_COLUMNS, TicketFilters, filtered_query, parse_filters

MAX_PENDING_PER_USER = 3
MAX_ATTEMPTS = 3
RUNNER_BATCH = 5
STALE_RUNNING = timedelta(hours=1)  # a RUNNING export older than this lost its worker
PAGE_SIZE = 50
CSV_HEADER = (
    "Número",
    "Assunto",
    "Status",
    "Prioridade",
    "Fila",
    "Empresa",
    "Solicitante",
    "E-mail do solicitante",
    "Responsável",
    "Criado em",
    "Atualizado em",
    "Resolvido em",
    "Tempo trabalhado (min)",
)


def exports_enabled() -> bool:
    return bool(current_app.config["REPORT_EXPORTS_ENABLED"])


def request_export(user: User, filters: TicketFilters) -> ReportExport:
    if not can(user, "reports.export"):
        raise PermissionDenied("Apenas a equipe de suporte exporta relatórios.")
    if not exports_enabled():
        raise Conflict(
            "As exportações de relatórios estão desativadas nesta instalação.", code="exports_disabled"
        )
    waiting = db.session.scalar(
        select(func.count())
        .select_from(ReportExport)
        .where(
            ReportExport.requested_by_id == user.id,
            ReportExport.status.in_((ExportStatus.PENDING, ExportStatus.RUNNING)),
        )
    )
    if waiting >= MAX_PENDING_PER_USER:
        raise Conflict(
            f"Você já tem {waiting} exportações na fila. Aguarde terminarem.", code="too_many_exports"
        )
    export = ReportExport(
        tenant_id=user.tenant_id, requested_by_id=user.id, filters_query=filters.query_string()
    )
    db.session.add(export)
    db.session.flush()
    return export


def visible_exports(user: User):
    """Admins and managers see the tenant's exports (the gate's part); agents their own."""
    query = select(ReportExport)
    if not can(user, "reports.all_exports"):
        query = query.where(ReportExport.requested_by_id == user.id)
    return query


def list_exports(user: User, page: int = 1) -> tuple[list[ReportExport], bool]:
    page = max(page, 1)
    rows = list(
        db.session.scalars(
            visible_exports(user)
            .order_by(ReportExport.created_at.desc(), ReportExport.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def get_export(user: User, export_id: int) -> ReportExport:
    export = db.session.scalar(visible_exports(user).where(ReportExport.id == export_id))
    if export is None:
        raise NotFound("Exportação não encontrada.")
    return export


def export_path(export: ReportExport) -> str:
    return os.path.join(current_app.config["EXPORT_DIR"], str(export.tenant_id), export.file_name or "")


def download_name(export: ReportExport) -> str:
    return f"chamados-{export.created_at:%Y%m%d-%H%M}-{export.id}.csv"


# --- the runner ----------------------------------------------------------------


def run_pending_exports(now: datetime | None = None, batch: int = RUNNER_BATCH) -> JobOutcome:
    """Build up to `batch` waiting exports, of any tenant, each in its own tenant's scope. Safe
    to run twice at once: each export is claimed by a conditional UPDATE, so only one runner
    builds it."""
    now = now or utcnow()
    with tenancy.all_tenants("the waiting exports of every tenant are one queue, oldest first"):
        candidates = db.session.execute(
            select(ReportExport.id, ReportExport.tenant_id)
            .where(_claimable(now))
            .order_by(ReportExport.id)
            .limit(batch + 1)
        ).all()
    built = failed = 0
    for export_id, tenant_id in candidates[:batch]:
        with tenancy.scope(tenant_id):
            export = _claim(export_id, now)
            if export is None:
                continue
            if _build(export):
                built += 1
            else:
                failed += 1
    summary = f"exportações geradas {built}, com falha {failed}"
    return JobOutcome(changed=built + failed, summary=summary, has_more=len(candidates) > batch)


def _claimable(now: datetime):
    """Waiting, or RUNNING for so long that its worker must have died."""
    return or_(
        ReportExport.status == ExportStatus.PENDING,
        (ReportExport.status == ExportStatus.RUNNING) & (ReportExport.started_at < now - STALE_RUNNING),
    )


def _claim(export_id: int, now: datetime) -> ReportExport | None:
    claimed = db.session.execute(
        update(ReportExport)
        .where(ReportExport.id == export_id, _claimable(now))
        .values(status=ExportStatus.RUNNING, started_at=now, attempts=ReportExport.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Committed before the file is built: another runner skips it instead of waiting on its lock,
    # and no write lock is held while the file is written (SQLite).
    db.session.commit()
    return db.session.get(ReportExport, export_id) if claimed else None


def _build(export: ReportExport) -> bool:
    directory = Path(current_app.config["EXPORT_DIR"]) / str(export.tenant_id)
    directory.mkdir(parents=True, exist_ok=True)
    file_name = f"{export.id}.csv"
    partial = directory / f".{file_name}.part"
    try:
        rows = write_csv(export, partial)
        os.replace(partial, directory / file_name)
    except Exception as error:  # the export records the failure; the job goes on with the next one
        db.session.rollback()  # a failed statement's transaction: nothing since the claim's commit
        partial.unlink(missing_ok=True)
        export = db.session.get(ReportExport, export.id)
        export.error = f"{type(error).__name__}: {error}"[:1000]
        export.status = ExportStatus.FAILED if export.attempts >= MAX_ATTEMPTS else ExportStatus.PENDING
        db.session.flush()
        current_app.logger.exception("report export %s failed (attempt %s)", export.id, export.attempts)
        return False
    export.status = ExportStatus.DONE
    export.file_name = file_name
    export.file_size = (directory / file_name).stat().st_size
    export.row_count = rows
    export.error = None
    export.finished_at = utcnow()
    db.session.flush()
    return True


def export_rows(export: ReportExport):
    """The rows of the export, streamed from the database in chunks."""
    requester = db.session.get(User, export.requested_by_id)
    timezone = current_app.config["DEFAULT_TIMEZONE"]
    filters = parse_filters(MultiDict(parse_qsl(export.filters_query)), export.tenant_id)
    asker, assignee = aliased(User), aliased(User)
    sort = SORT_COLUMNS[filters.sort]
    order = (sort.asc(), Ticket.id.asc()) if filters.direction == "asc" else (sort.desc(), Ticket.id.desc())
    statement = (
        filtered_query(requester, filters, timezone)
        .with_only_columns(
            Ticket.reference,
            Ticket.subject,
            Ticket.status,
            Ticket.priority,
            Queue.name,
            Company.apelido,
            asker.name,
            asker.email,
            assignee.name,
            Ticket.created_at,
            Ticket.updated_at,
            Ticket.resolved_at,
            Ticket.worked_seconds,
        )
        .join(Queue, Queue.id == Ticket.queue_id)
        .outerjoin(Company, Company.id == Ticket.company_id)
        .join(asker, asker.id == Ticket.requester_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
        .order_by(*order)
        .limit(current_app.config["REPORT_EXPORT_MAX_ROWS"])
        .execution_options(yield_per=1000)
    )
    return db.session.execute(statement), ZoneInfo(timezone)


def write_csv(export: ReportExport, path: Path) -> int:
    result, zone = export_rows(export)

    def when(value):
        return value.astimezone(zone).strftime("%d/%m/%Y %H:%M") if value else ""

    count = 0
    # utf-8-sig and ";" so Excel in pt-BR opens the file with accents and columns right.
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(CSV_HEADER)
        for row in result:
            (
                ref,
                subject,
                status,
                priority,
                queue,
                company,
                name,
                email,
                assignee,
                created,
                updated,
                resolved,
                worked,
            ) = row
            writer.writerow(
                (
                    ref,
                    _safe_cell(subject),
                    TicketStatus(status).label,
                    TicketPriority(priority).label,
                    _safe_cell(queue),
                    _safe_cell(company or ""),
                    _safe_cell(name),
                    email,
                    _safe_cell(assignee or ""),
                    when(created),
                    when(updated),
                    when(resolved),
                    (worked or 0) // 60,
                )
            )
            count += 1
    result.close()
    return count


def _safe_cell(value: str) -> str:
    """Cells that spreadsheets would run as formulas get a leading apostrophe (CSV injection)."""
    return "'" + value if value and value[0] in "=+-@\t\r" else value
