"""Respostas prontas: reply texts a tenant's admins write once and staff insert in a comment.

A text may hold variables, filled on the server for the ticket at hand when it is inserted:
{solicitante}, {numero}, {responsavel} and {empresa} (the accented spellings and any letter
case work too). The values are HTML-escaped, and the result is sanitised again, so a name
such as "<b>Zé</b>" is shown as typed and never becomes markup. Admin changes are audited
(app/services/audit.py, AUDITED).
"""

from __future__ import annotations

import re

from markupsafe import escape
from sqlalchemy import func, select

from app.extensions import db
from app.models import CannedReply, Ticket, User
from app.services.errors import ValidationError
from app.services.html import html_to_text, sanitize_html

TITLE_MAX = 80
BODY_MAX = 20_000  # characters of HTML: a reply, not a manual
MENU_LIMIT = 200  # what the editor's menu lists

# What a person reads on the admin page, in the order shown.
VARIABLES = {
    "solicitante": "nome do solicitante",
    "numero": "número do chamado",
    "responsavel": "nome do responsável (ou o seu, se o chamado não tiver)",
    "empresa": "nome da empresa do chamado",
}
_SPELLINGS = {"número": "numero", "responsável": "responsavel"}
_VARIABLE = re.compile(r"\{\s*(solicitante|n[uú]mero|respons[aá]vel|empresa)\s*\}", re.IGNORECASE)


def list_replies(limit: int = MENU_LIMIT) -> list[CannedReply]:
    """The current tenant's replies by title (the gate scopes the query)."""
    return list(db.session.scalars(select(CannedReply).order_by(func.lower(CannedReply.title)).limit(limit)))


def menu_replies(limit: int = MENU_LIMIT) -> list:
    """The ticket page's menu: ids and titles only (rows with .id and .title). Every render of
    the page and every live refresh reads it; the text comes when one is chosen."""
    query = select(CannedReply.id, CannedReply.title).order_by(func.lower(CannedReply.title)).limit(limit)
    return list(db.session.execute(query))


def _clean(reply: CannedReply | None, title: str, body_html: str) -> tuple[str, str]:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError("Informe o título da resposta pronta.", field="title")
    if len(title) > TITLE_MAX:
        raise ValidationError(f"O título pode ter no máximo {TITLE_MAX} caracteres.", field="title")
    body_html = sanitize_html(body_html)
    if not html_to_text(body_html):
        raise ValidationError("Escreva o texto da resposta pronta.", field="body")
    if len(body_html) > BODY_MAX:
        raise ValidationError(f"O texto pode ter no máximo {BODY_MAX} caracteres.", field="body")
    same = db.session.scalar(
        select(CannedReply.id).where(func.lower(CannedReply.title) == title.lower()).limit(1)
    )
    if same is not None and (reply is None or same != reply.id):
        raise ValidationError(f"Já existe uma resposta pronta chamada “{title}”.", field="title")
    return title, body_html


def create_reply(tenant_id: int, title: str, body_html: str) -> CannedReply:
    title, body_html = _clean(None, title, body_html)
    reply = CannedReply(tenant_id=tenant_id, title=title, body_html=body_html)
    db.session.add(reply)
    db.session.flush()
    return reply


def update_reply(reply: CannedReply, title: str, body_html: str) -> bool:
    """Save the new title and text; False (nothing written) when neither changed."""
    title, body_html = _clean(reply, title, body_html)
    if (reply.title, reply.body_html) == (title, body_html):
        return False
    reply.title, reply.body_html = title, body_html
    db.session.flush()
    return True


def delete_reply(reply: CannedReply) -> None:
    db.session.delete(reply)
    db.session.flush()


def values_for(ticket: Ticket, viewer: User) -> dict[str, str]:
    """Each variable's plain-text value for this ticket (escaped when filled in)."""
    assignee = ticket.assignee or viewer
    company = ticket.company or ticket.requester.company
    return {
        "solicitante": ticket.requester.name,
        "numero": str(ticket.reference),
        "responsavel": assignee.name,
        "empresa": company.name if company else "",
    }


def fill(reply: CannedReply, ticket: Ticket, viewer: User) -> str:
    """The reply's HTML with its variables filled for the ticket, safe to insert in the editor."""
    values = values_for(ticket, viewer)

    def replace(match: re.Match) -> str:
        name = match.group(1).lower()
        return str(escape(values[_SPELLINGS.get(name, name)]))

    return sanitize_html(_VARIABLE.sub(replace, reply.body_html))
