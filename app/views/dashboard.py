from flask import Blueprint, render_template
from flask_login import current_user

from app.security import staff_required
from app.services.dashboard import status_counts

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@staff_required
def index():
    return render_template("dashboard/index.html", counts=status_counts(current_user.tenant_id))
