"""Readiness (/health: database, Redis, jobs queue), liveness (/health/live: the
process answers, nothing else), the staff health page (Saúde) and its Tarefas page."""

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for

from app.extensions import csrf
from app.jobs.registry import JOBS, job_spec
from app.jobs.schedule import next_run
from app.models import TicketStatus
from app.security import requires, staff_required
from app.services import job_runs, notifications
from app.services.archive import MAX_ARCHIVE_DAYS
from app.services.health import check_queue, health_snapshot, system_overview, tenant_overview
from app.views.forms import form_number, query_number

bp = Blueprint("health", __name__)


@bp.get("/health")
@csrf.exempt
def health():
    snapshot, healthy = health_snapshot(current_app.config["VERSION"])
    return jsonify(snapshot), 200 if healthy else 503


@bp.get("/health/live")
def live():
    """For process supervisors: a restart cannot fix the database, so this checks nothing else."""
    return jsonify({"status": "ok"})


@bp.get("/admin/saude")
@staff_required
def page():
    queue = check_queue()
    snapshot, _healthy = health_snapshot(current_app.config["VERSION"], queue)
    dashboard = {**tenant_overview(), **system_overview(queue)}
    return render_template(
        "health/index.html",
        snapshot=snapshot,
        dashboard=dashboard,
        jobs=JOBS,
        ticket_statuses=list(TicketStatus),
        email=notifications.outbox_summary(),
    )


@bp.get("/admin/saude/tarefas")
@staff_required
def jobs():
    selected = request.args.get("tarefa", "")
    spec = job_spec(selected) if selected else None
    before = query_number("antes")
    runs = job_runs.recent_runs(spec.name if spec else None, before_id=before)
    has_more = len(runs) > job_runs.RUNS_PAGE_SIZE
    runs = runs[: job_runs.RUNS_PAGE_SIZE]
    schedule = [
        {
            "spec": job,
            "enabled": job.enabled(current_app.config),
            "cron": job.cron_expression(current_app.config),
            "next_run": next_run(job, current_app.config) if job.enabled(current_app.config) else None,
        }
        for job in JOBS.values()
    ]
    template = "health/_runs.html" if request.headers.get("HX-Request") else "health/jobs.html"
    return render_template(
        template,
        schedule=schedule,
        latest=job_runs.latest_by_job(),
        runs=runs,
        has_more=has_more,
        selected=spec.name if spec else "",
        jobs=JOBS,
    )


@bp.post("/admin/saude/tarefas/<name>/executar")
@requires("admin.jobs")
def run_now(name: str):
    from app.jobs.runner import submit

    spec = job_spec(name)
    if spec is None:
        abort(404)
    if not spec.enabled(current_app.config):
        flash(f"“{spec.label}” está desativada nesta instalação ({spec.flag}).", "error")
    else:
        submission = submit(spec.name, trigger="manual")
        flash(submission.notice(spec.label), "info" if submission.fell_back else "success")
    return redirect(url_for("health.jobs", tarefa=spec.name))


@bp.post("/admin/saude/arquivar")
@requires("admin.jobs")
def archive_now():
    """The archive from the browser (the same service as the API and `flask tickets archive`)."""
    from app.services.archive import archive_resolved

    days = form_number("dias")
    if days is None or days > MAX_ARCHIVE_DAYS:
        flash(
            f"Informe em dias (de 1 a {MAX_ARCHIVE_DAYS}) há quanto tempo os chamados foram resolvidos.",
            "error",
        )
        return redirect(url_for("health.page"))
    result = archive_resolved(days)
    flash(f"Arquivo local: {result.summary()}.", "success")
    return redirect(url_for("health.page"))
