"""The collaborators' portal: their tickets (or their company's, as its manager),
opening a ticket, public comments, reopening, and the device-session debug page."""

import json
from functools import partial

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.chat import read_models as chat_reads
from app.models import TicketStatus
from app.security import current_device_session, current_persona, current_user_can, portal_required
from app.services import portal as portal_service
from app.services import tickets as ticket_service
from app.services import timeline
from app.services.errors import DomainError
from app.services.permissions import reopen_deadline
from app.services.portal import PortalViewer
from app.views.errors import flash_refusal
from app.views.forms import query_number, uploaded_files
from app.views.template_helpers import is_fragment_request

bp = Blueprint("portal", __name__, url_prefix="/portal")


def _viewer() -> PortalViewer:
    device = current_device_session()
    return PortalViewer(current_user, current_persona(), device.machine if device else None)


@bp.get("")
@portal_required
def index():
    viewer = _viewer()
    status = request.args.get("status") or ""
    if status not in {s.value for s in TicketStatus}:
        status = ""
    page = portal_service.list_tickets(viewer, status or None, query_number("pagina", 1))
    template = "portal/_list.html" if is_fragment_request() else "portal/index.html"
    return render_template(template, page=page, status=status, statuses=list(TicketStatus), viewer=viewer)


@bp.route("/chamados/novo", methods=["GET", "POST"])
@portal_required
def new():
    viewer = _viewer()
    values, error = {}, None
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in ("subject", "description")}
        try:
            ticket = portal_service.open_ticket(
                viewer, values["subject"], values["description"], uploaded_files()
            )
        except DomainError as exc:
            error = exc
        else:
            flash(f"Chamado #{ticket.reference} aberto. Acompanhe por aqui.", "success")
            return redirect(url_for("portal.show", reference=ticket.reference))
    return render_template("portal/new.html", values=values, error=error, viewer=viewer), (
        error.status if error else 200
    )


def portal_ticket(reference: int):
    """A ticket the portal visitor may see (else 404)."""
    return portal_service.get_ticket(_viewer(), reference)


def _ticket_context(ticket, **extra) -> dict:
    return {
        "ticket": ticket,
        "timeline": timeline.timeline(ticket, include_internal=False),
        "describe_event": partial(timeline.describe_event, public=True),
        "ticket_files": ticket_service.ticket_attachments(ticket),
        "can_reopen": current_user_can("tickets.reopen", ticket),
        "reopen_deadline": reopen_deadline(ticket),
        **extra,
    }


@bp.get("/chamados/<int:reference>")
@portal_required
def show(reference: int):
    ticket = portal_ticket(reference)
    chat = {}
    if current_user_can("chat.customer", ticket):
        chat = chat_reads.panel(ticket)
    return render_template("portal/show.html", **_ticket_context(ticket, **chat))


@bp.post("/chamados/<int:reference>/comentarios")
@portal_required
def comment(reference: int):
    ticket = portal_service.get_ticket(_viewer(), reference)
    body = request.form.get("body", "")
    try:
        ticket_service.add_comment(ticket, current_user, body, "PUBLIC", uploaded_files())
    except DomainError as error:
        if not is_fragment_request():
            flash_refusal(error.message)
            return redirect(url_for("portal.show", reference=reference))
        # The form comes back with what was typed: nothing is lost.
        return render_template(
            "portal/_comment_form.html", ticket=ticket, comment_error=error.message, body=body
        ), error.status
    if not is_fragment_request():
        return redirect(url_for("portal.show", reference=reference))
    return render_template("portal/_comment_update.html", **_ticket_context(ticket))


@bp.post("/chamados/<int:reference>/reabrir")
@portal_required
def reopen(reference: int):
    ticket = portal_service.get_ticket(_viewer(), reference)
    ticket_service.change_status(
        ticket,
        "reabrir",
        current_user,
        expected_status=request.form.get("expected_status"),
        message_html=request.form.get("message", ""),
    )
    flash(f"Chamado #{ticket.reference} reaberto.", "success")
    return redirect(url_for("portal.show", reference=reference))


@bp.get("/debug")
@portal_required
def debug():
    """Troubleshooting a device session (seed 001): what the server sees, without secrets."""
    device = current_device_session()
    session_info = {
        "authenticated": True,
        "user": {
            "id": current_user.id,
            "name": current_user.name,
            "email": current_user.email,
            "role": current_user.role.value,
            "companyId": current_user.company_id,
        },
        "persona": current_persona().value,
        "deviceSession": device is not None,
    }
    machine_session = device.context() if device else None
    return render_template(
        "portal/debug.html",
        session_json=json.dumps(session_info, ensure_ascii=False, indent=2),
        machine_json=json.dumps(machine_session, ensure_ascii=False, indent=2),
        device=device,
    )
