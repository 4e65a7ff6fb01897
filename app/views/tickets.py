"""Staff ticket pages and attachment downloads."""

from flask import Blueprint, abort, render_template, request, send_file
from flask_login import current_user, login_required
from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, Comment, Ticket, TicketEvent
from app.security import staff_required
from app.services.attachments import storage_path
from app.services.permissions import can_view_ticket, visible_tickets

bp = Blueprint("tickets", __name__)

PAGE_SIZE = 50
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args[name])
    except (KeyError, ValueError):
        return None


@bp.get("/chamados")
@staff_required
def index():
    """Newest first, keyset-paginated on the reference number."""
    before = _int_arg("antes")
    query = visible_tickets(current_user).order_by(Ticket.reference.desc()).limit(PAGE_SIZE + 1)
    if before:
        query = query.where(Ticket.reference < before)
    tickets = list(db.session.scalars(query))
    has_more = len(tickets) > PAGE_SIZE
    tickets = tickets[:PAGE_SIZE]
    next_before = tickets[-1].reference if has_more else None
    return render_template("tickets/index.html", tickets=tickets, next_before=next_before)


def _ticket_or_404(reference: int) -> Ticket:
    ticket = db.session.scalar(visible_tickets(current_user).where(Ticket.reference == reference))
    if ticket is None:
        abort(404)
    return ticket


@bp.get("/chamados/<int:reference>")
@staff_required
def show(reference: int):
    ticket = _ticket_or_404(reference)
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.created_at)
    ).all()
    comments = db.session.scalars(
        select(Comment).where(Comment.ticket_id == ticket.id).order_by(Comment.created_at)
    ).all()
    attachments = db.session.scalars(
        select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)
    ).all()
    return render_template(
        "tickets/show.html", ticket=ticket, events=events, comments=comments, attachments=attachments
    )


@bp.get("/anexos/<int:attachment_id>")
@login_required
def download_attachment(attachment_id: int):
    """Serve a file only to someone who may see its ticket; anyone else gets 404."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or not can_view_ticket(current_user, attachment.ticket):
        abort(404)
    response = send_file(
        storage_path(attachment.storage_key),
        mimetype=attachment.content_type,
        as_attachment=attachment.content_type not in INLINE_TYPES,
        download_name=attachment.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
