"""The portal's side of the live chat: "Falar com o suporte" (the visitor's active chats), and
on a ticket page the chat itself, for its device session or its requester. The rules are in
app/chat/ and permissions' "chat.customer"; chat.js keeps the panel live over /ws/chat."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.chat import messages as chat_messages
from app.chat import read_models as chat_reads
from app.chat.messages import IncomingFile
from app.extensions import db
from app.security import current_device_session, current_persona, current_user_can, portal_required
from app.services.errors import DomainError
from app.views.forms import uploaded_files_with_types
from app.views.portal import portal_ticket
from app.views.template_helpers import is_fragment_request

bp = Blueprint("portal_chat", __name__, url_prefix="/portal")


def _active_chats() -> list[chat_reads.PersonSession]:
    device = current_device_session()
    return chat_reads.person_sessions(
        current_user, persona=current_persona(), machine_id=device.machine.id if device else None
    )


def chat_ticket_or_404(reference: int):
    """A ticket of the portal visitor on which they are the other side of the chat."""
    ticket = portal_ticket(reference)
    if not current_user_can("chat.customer", ticket):
        abort(404)
    return ticket


@bp.get("/chat")
@portal_required
def index():
    """The desktop agent's "Falar com o suporte": one active chat opens it; several are listed."""
    chats = _active_chats()
    if len(chats) == 1:
        return redirect(url_for("portal.show", reference=chats[0].ticket_reference) + "#chat")
    return render_template("portal/chat.html", chats=chats)


@bp.get("/chat/entrada")
@portal_required
def entry():
    """The menu entry, shown while a chat is active (refreshed by chat.js on "sessions")."""
    return render_template("portal/_chat_entry.html", chats=_active_chats())


@bp.get("/chamados/<int:reference>/chat")
@portal_required
def panel(reference: int):
    return _panel(chat_ticket_or_404(reference))


def _panel(ticket, error: str | None = None, status: int = 200, body: str = ""):
    if not is_fragment_request():
        if error:
            flash(error, "error")
        return redirect(url_for("portal.show", reference=ticket.reference) + "#chat")
    return render_template(
        "portal/_chat.html", chat_error=error, chat_body=body, ticket=ticket, **chat_reads.panel(ticket)
    ), status


@bp.post("/chamados/<int:reference>/chat/mensagens")
@portal_required
def send(reference: int):
    ticket = chat_ticket_or_404(reference)
    files = [IncomingFile(name, data, mime) for name, data, mime in uploaded_files_with_types()]
    try:
        chat_messages.post_message(
            ticket, author=current_user, from_device=True, body=request.form.get("body"), files=files
        )
    except DomainError as error:
        db.session.rollback()
        # What was typed comes back with the message, so nothing is lost.
        return _panel(ticket, error.message, error.status, body=request.form.get("body", ""))
    return _panel(ticket)


@bp.post("/chamados/<int:reference>/chat/lidas")
@portal_required
def mark_read(reference: int):
    chat_messages.mark_read(chat_ticket_or_404(reference), by_device=True)
    return "", 204
