"""Auditoria: the audit log for admins, filterable, paginated, exportable as CSV."""

from flask import Blueprint, Response, render_template, request, stream_with_context

from app.security import requires
from app.services import audit as audit_service
from app.views.forms import query_number
from app.views.template_helpers import is_fragment_request

bp = Blueprint("audit", __name__)


@bp.get("/admin/auditoria")
@requires("admin.audit")
def index():
    filters, errors = audit_service.parse_filters(request.args)
    entries, next_before = (
        ([], None) if errors else audit_service.list_entries(filters, query_number("antes"))
    )
    context = {
        "entries": entries,
        "next_before": next_before,
        "filters": filters,
        "errors": errors,
        "actors": audit_service.actor_choices(),
        "actions": audit_service.action_choices(),
        "action_labels": audit_service.ACTION_LABELS,
        "format_changes": audit_service.format_changes,
    }
    status = 400 if errors else 200
    if is_fragment_request() and request.headers.get("HX-Target") == "audit-results":
        return render_template("audit/_results.html", **context), status
    return render_template("audit/index.html", **context), status


@bp.get("/admin/auditoria.csv")
@requires("admin.audit")
def export_csv():
    filters, errors = audit_service.parse_filters(request.args)
    if errors:
        return Response("; ".join(errors), status=400, mimetype="text/plain")
    lines = audit_service.csv_lines(filters)
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="auditoria.csv"'},
    )
