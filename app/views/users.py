from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.security import admin_required

bp = Blueprint("users", __name__)

MAX_ROWS = 500


@bp.get("/usuarios")
@admin_required
def index():
    users = db.session.scalars(
        select(User).where(User.tenant_id == current_user.tenant_id).order_by(User.name).limit(MAX_ROWS)
    ).all()
    return render_template("users/index.html", users=users)
