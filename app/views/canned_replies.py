"""Respostas prontas: the admin page (create, edit, delete) and, on a ticket page, a reply
filled for that ticket (what the comment editor inserts; app/static/canned.js)."""

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import CannedReply
from app.security import requires
from app.services import canned_replies as canned_service
from app.services import tenancy
from app.services.errors import DomainError
from app.views.tickets import ticket_or_404

bp = Blueprint("canned_replies", __name__)
NOT_FOUND = "Resposta pronta não encontrada."


def _page(values=None, errors=None, reply=None, status: int = 200):
    return render_template(
        "canned_replies/index.html",
        replies=canned_service.list_replies(),
        variables=canned_service.VARIABLES,
        values=values or {},
        errors=errors or {},
        editing=reply,
    ), status


@bp.get("/respostas-prontas")
@requires("admin.canned_replies")
def index():
    return _page()


@bp.post("/respostas-prontas")
@requires("admin.canned_replies")
def create():
    form = request.form
    try:
        reply = canned_service.create_reply(
            current_user.tenant_id, form.get("title", ""), form.get("body", "")
        )
    except DomainError as error:  # its 4xx answer rolls the work back
        return _page(values=form, errors={error.field or "form": error.message}, status=error.status)
    flash(f"Resposta pronta “{reply.title}” criada.", "success")
    return redirect(url_for("canned_replies.index"))


@bp.route("/respostas-prontas/<int:reply_id>", methods=["GET", "POST"])
@requires("admin.canned_replies")
def edit(reply_id: int):
    reply = tenancy.owned(CannedReply, reply_id, NOT_FOUND)
    if request.method == "GET":
        return _page(values={"title": reply.title, "body": reply.body_html}, reply=reply)
    form = request.form
    try:
        changed = canned_service.update_reply(reply, form.get("title", ""), form.get("body", ""))
    except DomainError as error:  # its 4xx answer rolls the work back
        return _page(
            values=form, errors={error.field or "form": error.message}, reply=reply, status=error.status
        )
    flash(
        f"Resposta pronta “{reply.title}” salva." if changed else "Nada mudou.",
        "success" if changed else "info",
    )
    return redirect(url_for("canned_replies.index"))


@bp.post("/respostas-prontas/<int:reply_id>/excluir")
@requires("admin.canned_replies")
def delete(reply_id: int):
    reply = tenancy.owned(CannedReply, reply_id, NOT_FOUND)
    title = reply.title
    canned_service.delete_reply(reply)
    flash(f"Resposta pronta “{title}” excluída.", "success")
    return redirect(url_for("canned_replies.index"))


@bp.get("/chamados/<int:reference>/respostas-prontas/<int:reply_id>")
@requires("tickets.canned_replies")
def filled(reference: int, reply_id: int):
    """The reply with its variables filled for this ticket, as HTML the editor inserts."""
    ticket = ticket_or_404(reference)
    reply = tenancy.owned(CannedReply, reply_id, NOT_FOUND)
    response = jsonify(title=reply.title, html=canned_service.fill(reply, ticket, current_user))
    response.headers["Cache-Control"] = "no-store"  # the ticket's people may change
    return response
