"""Readiness (/health: database, Redis), liveness (/health/live: the process
answers, nothing else) and the staff health page (Saúde)."""

from flask import Blueprint, current_app, jsonify, render_template

from app.extensions import csrf, limiter
from app.security import staff_required
from app.services.health import health_snapshot

bp = Blueprint("health", __name__)


@bp.get("/health")
@limiter.exempt
@csrf.exempt
def health():
    snapshot, healthy = health_snapshot(current_app.config["VERSION"])
    return jsonify(snapshot), 200 if healthy else 503


@bp.get("/health/live")
@limiter.exempt
def live():
    """For process supervisors: a restart cannot fix the database, so this checks nothing else."""
    return jsonify({"status": "ok"})


@bp.get("/admin/saude")
@staff_required
def page():
    snapshot, _healthy = health_snapshot(current_app.config["VERSION"])
    return render_template("health/index.html", snapshot=snapshot)
