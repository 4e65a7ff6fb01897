"""Live chat: the staff panel on the ticket page, the floating widget, and the
websocket /ws/chat shared by staff browsers and devices. The rules are in
app/chat/; the socket protocol in app/chat/socket.py."""

import orjson
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from app.chat import messages as chat_messages
from app.chat import read_models as chat_reads
from app.chat import sessions as chat_sessions
from app.chat.broker import get_broker
from app.chat.messages import IncomingFile
from app.chat.socket import ChatConnection, Participant
from app.devices.tokens import authenticate_token
from app.extensions import db, sock
from app.models import Ticket
from app.security import (
    bearer_token,
    current_device_session,
    current_persona,
    current_user_can,
    origin_is_ours,
    staff_required,
)
from app.services.errors import DomainError
from app.services.permissions import sees_company
from app.views.errors import flash_refusal
from app.views.forms import uploaded_files_with_types
from app.views.template_helpers import is_fragment_request
from app.views.tickets import ticket_or_404

bp = Blueprint("chat", __name__)
FIRST_FRAME_SECONDS = 10


def _panel(ticket: Ticket, error: str | None = None, status: int = 200, body: str = ""):
    if not is_fragment_request():
        if error:
            flash_refusal(error)
        return redirect(url_for("tickets.show", reference=ticket.reference) + "#chat")
    return render_template(
        "tickets/_chat.html", chat_error=error, chat_body=body, ticket=ticket, **chat_reads.panel(ticket)
    ), status


@bp.get("/chamados/<int:reference>/chat")
@staff_required
def panel(reference: int):
    return _panel(ticket_or_404(reference))


def _change_session(reference: int, change):
    ticket = ticket_or_404(reference)
    try:
        change(current_user, ticket)
    except DomainError as error:
        return _panel(ticket, error.message, error.status)
    return _panel(ticket)


@bp.post("/chamados/<int:reference>/chat/iniciar")
@staff_required
def start(reference: int):
    return _change_session(reference, chat_sessions.start_session)


@bp.post("/chamados/<int:reference>/chat/encerrar")
@staff_required
def end(reference: int):
    return _change_session(reference, chat_sessions.end_session)


@bp.post("/chamados/<int:reference>/chat/mensagens")
@staff_required
def send(reference: int):
    ticket = ticket_or_404(reference)
    files = [IncomingFile(name, data, mime) for name, data, mime in uploaded_files_with_types()]
    try:
        chat_messages.post_message(
            ticket, author=current_user, from_device=False, body=request.form.get("body"), files=files
        )
    except DomainError as error:
        # What was typed comes back with the message, so nothing is lost.
        return _panel(ticket, error.message, error.status, body=request.form.get("body", ""))
    return _panel(ticket)


@bp.post("/chamados/<int:reference>/chat/lidas")
@staff_required
def mark_read(reference: int):
    chat_messages.mark_read(ticket_or_404(reference), by_device=False)
    return "", 204


@bp.get("/chat/sessoes")
@staff_required
def widget():
    return render_template("chat/_widget.html", chat_sessions=chat_reads.agent_sessions(current_user))


# --- websocket ---------------------------------------------------------------------


def _origin_allowed() -> bool:
    """Browsers send cookies with cross-site websocket handshakes; only our own pages may connect.
    A client without Origin is no browser: it may connect, but only with a device token
    (`_participant` never takes a staff login session from it)."""
    origin = request.headers.get("Origin")
    return not origin or origin_is_ours(origin, current_app.config["CHAT_ALLOWED_ORIGINS"])


@bp.before_request
def _refuse_foreign_websockets():
    if request.path == "/ws/chat" and not _origin_allowed():
        return {"error": {"code": "origin_not_allowed", "message": "Origem não permitida."}}, 403
    return None


@sock.route("/ws/chat", bp=bp)
def socket(ws):
    try:
        participant = _participant(ws)
    except DomainError as error:
        ws.send(orjson.dumps({"type": "error", "code": error.code, "message": error.message}).decode())
        ws.close(reason=4401, message=error.code)
        return
    db.session.remove()  # the connection is long-lived; it takes a database session per frame
    ChatConnection(ws, get_broker(current_app), participant).serve()


def _participant(ws) -> Participant:
    """Staff by their login session; devices by their token (header, or the first frame
    for websocket libraries that cannot set headers)."""
    token = bearer_token()
    from_our_page = bool(request.headers.get("Origin"))  # checked by _refuse_foreign_websockets
    if not token and from_our_page and current_user_can("chat.use"):
        return Participant(
            "agent", current_user.tenant_id, user_id=current_user.id, session_epoch=current_user.session_epoch
        )
    if not token and from_our_page and current_user_can("portal.pages"):
        return _portal_person()
    if not token:
        token = _token_from_first_frame(ws)
    context = authenticate_token(token)
    return Participant("machine", context.tenant_id, machine_id=context.machine_id, token_id=context.token_id)


def _portal_person() -> Participant:
    """The portal's side of a chat: a device session (its device; its token is re-checked
    while connected) or a person signed in normally (the tickets they requested)."""
    device = current_device_session()
    return Participant(
        "person",
        current_user.tenant_id,
        user_id=current_user.id,
        session_epoch=current_user.session_epoch,
        machine_id=device.machine.id if device else None,
        token_id=device.token_id if device else None,
        persona=current_persona().value,
        company_id=current_user.company_id,
        sees_company=sees_company(current_user, current_persona()),
    )


def _token_from_first_frame(ws) -> str:
    raw = ws.receive(timeout=FIRST_FRAME_SECONDS)
    try:
        frame = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        frame = None
    if isinstance(frame, dict) and frame.get("type") == "auth" and isinstance(frame.get("token"), str):
        return frame["token"]
    raise DomainError(
        'Entre como agente ou envie {"type": "auth", "token": "..."} primeiro.',
        status=401,
        code="not_authenticated",
    )
