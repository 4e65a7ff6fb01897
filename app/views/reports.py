"""Relatórios: ask for a CSV of the ticket list's current filter, follow it, download it."""

from urllib.parse import parse_qsl

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.models import ExportStatus
from app.security import staff_required
from app.services import reports, transaction
from app.services.errors import DomainError
from app.services.ticket_filters import parse_filters
from app.views.errors import flash_refusal
from app.views.forms import query_number

bp = Blueprint("reports", __name__)


@bp.get("/relatorios")
@staff_required
def index():
    page = query_number("pagina", 1)
    exports, has_more = reports.list_exports(current_user, page)
    waiting = any(e.status in (ExportStatus.PENDING, ExportStatus.RUNNING) for e in exports)
    template = "reports/_list.html" if request.headers.get("HX-Request") else "reports/index.html"
    return render_template(
        template,
        exports=exports,
        page=page,
        has_more=has_more,
        waiting=waiting,
        enabled=reports.exports_enabled(),
        download_name=reports.download_name,
    )


@bp.post("/relatorios/exportar")
@staff_required
def request_export():
    query = request.form.get("filtros", "")[:4000]
    try:
        filters = parse_filters(MultiDict(parse_qsl(query)), current_user.tenant_id)
        reports.request_export(current_user, filters)
    except DomainError as error:
        flash_refusal(error.message)
        return redirect(url_for("tickets.index") + (f"?{query}" if query else ""))
    # Start at once, once the export is committed (the runner, on RQ or a thread, must find it);
    # the 15-minute schedule only catches what this missed (worker down...).
    transaction.after_commit(_start_export)
    return redirect(url_for("reports.index"))


def _start_export() -> None:
    """Run when the request commits, before its session cookie is written: the flash still goes out."""
    from app.jobs.runner import submit

    if submit("report_export_runner", trigger="enqueue").fell_back:
        flash(
            "Exportação pedida. A fila de tarefas (Redis) não respondeu, então este servidor gera o "
            "arquivo; ele aparece aqui quando estiver pronto.",
            "info",
        )
    else:
        flash("Exportação pedida. O arquivo aparece aqui quando estiver pronto.", "success")


@bp.get("/relatorios/<int:export_id>/arquivo")
@staff_required
def download(export_id: int):
    export = reports.get_export(current_user, export_id)
    if export.status != ExportStatus.DONE:
        flash("Este relatório ainda não está pronto.", "error")
        return redirect(url_for("reports.index"))
    return send_file(
        reports.export_path(export),
        mimetype="text/csv",
        as_attachment=True,
        download_name=reports.download_name(export),
        max_age=0,
    )
