from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import Machine
from app.security import staff_required

bp = Blueprint("devices", __name__)

MAX_ROWS = 500


@bp.get("/dispositivos")
@staff_required
def index():
    machines = db.session.scalars(
        select(Machine)
        .where(Machine.tenant_id == current_user.tenant_id)
        .order_by(Machine.hostname)
        .limit(MAX_ROWS)
    ).all()
    return render_template("devices/index.html", machines=machines)
