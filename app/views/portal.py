"""The collaborators' portal. For now: the list of one's own tickets."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Ticket
from app.services.permissions import visible_tickets

bp = Blueprint("portal", __name__)

MAX_ROWS = 100


@bp.get("/portal")
@login_required
def index():
    tickets = db.session.scalars(
        visible_tickets(current_user)
        .where(Ticket.requester_id == current_user.id)
        .options(joinedload(Ticket.assignee))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(MAX_ROWS)
    ).all()
    return render_template("portal/index.html", tickets=tickets)
