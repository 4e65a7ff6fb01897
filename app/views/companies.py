from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import Company
from app.security import admin_required

bp = Blueprint("companies", __name__)

MAX_ROWS = 500


@bp.get("/empresas")
@admin_required
def index():
    companies = db.session.scalars(
        select(Company)
        .where(Company.tenant_id == current_user.tenant_id)
        .order_by(Company.apelido)
        .limit(MAX_ROWS)
    ).all()
    return render_template("companies/index.html", companies=companies)
