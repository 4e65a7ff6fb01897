"""Machine-to-machine endpoints for sites that prefer system cron (seed 000 §12) and
for the local ticket archive (§14). A shared secret in a header, compared in
constant time; anything else is 401."""

from flask import Blueprint, current_app, jsonify, request

from app.extensions import csrf
from app.jobs.registry import job_spec
from app.jobs.runner import JobDisabled, run_job
from app.security import shared_secret_matches
from app.services.archive import MAX_ARCHIVE_DAYS, archive_resolved
from app.views.errors import json_error

bp = Blueprint("cron", __name__)
csrf.exempt(bp)


def _json_object() -> dict:
    """The body's JSON object; anything else (nothing, a list, not JSON) counts as empty."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


# GET too: the seed's crontab lines are plain `curl -s URL -H "x-cron-secret: …"`.
@bp.route("/api/cron/<name>", methods=["GET", "POST"])
def run(name: str):
    if not shared_secret_matches(request.headers.get("x-cron-secret"), current_app.config["CRON_SECRET"]):
        return json_error(401, "invalid_cron_secret", "Segredo de cron ausente ou inválido.")
    spec = job_spec(name)
    if spec is None:
        return json_error(404, "unknown_job", "Tarefa desconhecida: veja os nomes em Saúde → Tarefas.")
    body = _json_object()
    kwargs = {"dry_run": True} if spec.name == "retention_sweep" and body.get("dryRun") else {}
    try:
        outcome = run_job(spec.name, "http", **kwargs)
    except JobDisabled as error:
        return json_error(409, "job_disabled", str(error))
    except Exception:  # recorded on Tarefas with its traceback by run_job
        return json_error(500, "job_failed", "A tarefa falhou; veja Saúde → Tarefas.")
    return jsonify(
        {
            "job": spec.name,
            "changed": outcome.changed,
            "hasMore": outcome.has_more,
            "summary": outcome.summary,
        }
    )


@bp.post("/api/admin/tickets/archive-local")
def archive_local():
    config = current_app.config
    provided = request.headers.get("x-internal-token") or request.headers.get("x-cron-secret")
    if not shared_secret_matches(provided, config["INTERNAL_HEALTH_TOKEN"], config["CRON_SECRET"]):
        return json_error(401, "invalid_token", "Token interno ausente ou inválido.")
    days = _json_object().get("olderThanDays", 365)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_ARCHIVE_DAYS:
        return json_error(
            422,
            "validation_failed",
            f"olderThanDays deve ser um número inteiro de 1 a {MAX_ARCHIVE_DAYS}.",
        )
    result = archive_resolved(days)
    return jsonify(
        {
            "archived": result.tickets,
            "comments": result.comments,
            "events": result.events,
            "file": result.path,
            "summary": result.summary(),
        }
    )
