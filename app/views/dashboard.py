from flask import Blueprint, current_app, render_template

from app.security import staff_required
from app.services.dashboard import counters, latest_tickets

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@staff_required
def index():
    return render_template(
        "dashboard/index.html",
        counters=counters(current_app.config["DEFAULT_TIMEZONE"]),
        latest=latest_tickets(),
    )


@bp.get("/painel/ultimos")
@staff_required
def latest():
    """The "Últimos chamados" block alone (the Painel itself refreshes it from the change feed)."""
    return render_template("dashboard/_latest.html", latest=latest_tickets())
