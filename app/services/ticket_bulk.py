"""Bulk actions on the ticket list: one change (assignee, queue, priority, Pausar, Encerrar)
applied to several tickets through the single-ticket rules of `app.services.tickets`, with a
Portuguese account of what changed, what already was so and what was refused."""

from dataclasses import dataclass, field

from app.extensions import db
from app.models import Queue, Ticket, TicketPriority, TicketStatus, User
from app.services.errors import Conflict, ValidationError
from app.services.html import html_to_text
from app.services.numbers import record_number
from app.services.permissions import visible_tickets
from app.services.tickets import (
    ACTION_VERBS,
    assign,
    change_priority,
    change_queue,
    change_status,
    staff_member,
)

BULK_ACTIONS = ("atribuir", "fila", "prioridade", "pausar", "encerrar")
BULK_STATUS_ACTIONS = ("pausar", "encerrar")
BULK_LIMIT = 100
BULK_DONE = {"pausar": "pausado(s)", "encerrar": "encerrado(s)"}


@dataclass
class BulkResult:
    """What a bulk action did, by ticket number: changed, already as asked, or refused (why)."""

    action: str
    target: str = ""  # "com Artur Agente", "na fila Chamados"...: how "already so" reads
    changed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refused: dict[str, list[int]] = field(default_factory=dict)  # reason -> references

    @property
    def changed_count(self) -> int:
        return len(self.changed)

    def message(self) -> tuple[str, str]:
        """The Portuguese sentence for the list, and its flash category: green only when
        something changed and nothing was refused; neutral when nothing changed."""
        parts = []
        if self.changed:
            parts.append(f"{len(self.changed)} chamado(s) {BULK_DONE.get(self.action, 'alterado(s)')}.")
        if self.unchanged:
            already = f"já {'estava' if len(self.unchanged) == 1 else 'estavam'} {self.target}"
            if self.changed:
                parts.append(f"{_refs(self.unchanged)} {already}.")
            else:
                who = "o selecionado" if len(self.unchanged) == 1 else "os selecionados"
                parts.append(f"Nenhum chamado mudou: {who} {already}.")
        if self.refused:
            reasons = "; ".join(f"{_refs(refs)} ({reason})" for reason, refs in self.refused.items())
            parts.append(f"Não foi possível {ACTION_VERBS.get(self.action, 'alterar')}: {reasons}.")
        if not parts:
            parts.append("Nenhum chamado mudou.")
        if self.refused:
            category = "info" if self.changed else "error"
        else:
            category = "success" if self.changed else "info"
        return " ".join(parts), category


def _refs(references: list[int]) -> str:
    return ", ".join(f"#{reference}" for reference in sorted(references))


def bulk_update(
    user: User,
    ticket_ids: list[int],
    action: str,
    value: str = "",
    *,
    reason: str = "",
    message_html: str = "",
) -> BulkResult:
    """Apply one change to several tickets the user may see.

    Pausar and Encerrar go through `change_status`, the single actions' rule, one ticket at a
    time: a ticket that cannot move (already resolved, changed meanwhile) is
    reported, the others still move."""
    if action not in BULK_ACTIONS:
        raise ValidationError("Escolha uma ação em massa.", field="action")
    if not ticket_ids:
        raise ValidationError("Selecione ao menos um chamado.", field="tickets")
    if len(ticket_ids) > BULK_LIMIT:
        raise ValidationError(f"Selecione no máximo {BULK_LIMIT} chamados por vez.", field="tickets")
    if action == "encerrar" and not html_to_text(message_html):
        raise ValidationError("Escreva a mensagem de encerramento.", field="message")
    tickets = db.session.scalars(
        visible_tickets(user).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.reference)
    ).all()
    if action in BULK_STATUS_ACTIONS:
        return _bulk_status(user, tickets, action, reason, message_html)
    result = BulkResult(action, target=_bulk_target(user, action, value))
    for ticket in tickets:
        if action == "atribuir":
            target = None if value in ("", "nenhum") else _positive_int(value, "assignee")
            did_change = assign(ticket, target, user)
        elif action == "fila":
            did_change = change_queue(ticket, _positive_int(value, "queue"), user)
        else:
            did_change = change_priority(ticket, value, user)
        if did_change:  # updated_at moves with the change's own UPDATE (its onupdate)
            result.changed.append(ticket.reference)
        else:
            result.unchanged.append(ticket.reference)
    db.session.flush()
    return result


def _bulk_status(
    user: User, tickets: list[Ticket], action: str, reason: str, message_html: str
) -> BulkResult:
    result = BulkResult(action)
    for ticket in tickets:
        reference = ticket.reference
        try:
            change_status(ticket, action, user, reason=reason, message_html=message_html)
        except Conflict as error:
            why = (
                TicketStatus(ticket.status).label
                if error.code == "invalid_transition"
                else "alterado por outra pessoa"
            )
            result.refused.setdefault(why, []).append(reference)
        else:
            result.changed.append(reference)
    return result


def _bulk_target(user: User, action: str, value: str) -> str:
    """How "already so" reads for a field change ("com Artur Agente"); the value is checked
    again by the change itself."""
    if action == "atribuir":
        if value in ("", "nenhum"):
            return "sem responsável"
        assignee = staff_member(user.tenant_id, _positive_int(value, "assignee"))
        return f"com {assignee.name}"
    if action == "fila":
        queue = db.session.get(Queue, _positive_int(value, "queue"))
        if queue is None or queue.tenant_id != user.tenant_id:
            raise ValidationError("Fila inválida.", field="queue")
        return f"na fila {queue.name}"
    try:
        return f"com a prioridade {TicketPriority(value).label}"
    except ValueError:
        raise ValidationError("Prioridade inválida.", field="priority") from None


def _positive_int(value: str, field: str) -> int:
    number = record_number(value)
    if number is None:
        raise ValidationError("Valor inválido.", field=field)
    return number
