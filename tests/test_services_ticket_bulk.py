"""Bulk actions on the ticket list (app/services/ticket_bulk.py)."""

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import Comment, CommentVisibility, Role, TicketEvent, TicketPriority, TicketStatus
from app.services import tenancy
from app.services.errors import ValidationError
from app.services.ticket_bulk import bulk_update
from app.services.tickets import change_status, create_ticket
from app.services.timeline import describe_event
from tests.conftest import make_user


def _events(ticket):
    return db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ).all()


def test_bulk_update_changes_only_visible_tickets(make_ticket, agent_user, other_tenant):
    mine = [make_ticket(f"T{i}") for i in range(3)]
    outsider = make_user(other_tenant, Role.AGENT)
    with tenancy.scope(other_tenant.id):
        theirs = create_ticket(tenant_id=other_tenant.id, requester=outsider, subject="Deles")
    with tenancy.scope(agent_user.tenant_id):  # as in the agent's request
        result = bulk_update(agent_user, [t.id for t in mine] + [theirs.id], "prioridade", "HIGH")
    assert result.changed_count == 3
    assert theirs.priority is TicketPriority.MEDIUM
    assert bulk_update(agent_user, [t.id for t in mine], "atribuir", str(agent_user.id)).changed_count == 3
    assert {t.assignee_id for t in mine} == {agent_user.id}
    with pytest.raises(ValidationError):
        bulk_update(agent_user, [], "prioridade", "HIGH")


def test_bulk_change_to_what_it_already_is_says_so_neutrally(make_ticket, agent_user):
    tickets = [make_ticket(f"T{i}", assignee_id=agent_user.id) for i in range(2)]
    result = bulk_update(agent_user, [t.id for t in tickets], "atribuir", str(agent_user.id))
    assert result.changed_count == 0
    assert result.message() == ("Nenhum chamado mudou: os selecionados já estavam com Artur Agente.", "info")
    fresh = make_ticket("Novo")
    result = bulk_update(agent_user, [t.id for t in tickets] + [fresh.id], "prioridade", "MEDIUM")
    assert result.message() == (
        "Nenhum chamado mudou: os selecionados já estavam com a prioridade Média.",
        "info",
    )
    result = bulk_update(agent_user, [tickets[0].id, fresh.id], "atribuir", str(agent_user.id))
    assert result.message() == (
        f"1 chamado(s) alterado(s). #{tickets[0].reference} já estava com Artur Agente.",
        "success",
    )


def test_bulk_pause_uses_the_single_rule_and_reports_what_could_not_move(make_ticket, agent_user):
    working = [make_ticket(f"Em andamento {i}") for i in range(2)]
    for ticket in working:
        change_status(ticket, "iniciar", agent_user)
    pending = make_ticket("Pendente")
    resolved = make_ticket("Resolvido", assignee_id=agent_user.id)
    change_status(resolved, "encerrar", agent_user, message_html="<p>Feito.</p>")
    ids = [t.id for t in (*working, pending, resolved)]
    result = bulk_update(agent_user, ids, "pausar", reason="Aguardando fornecedor")
    text, category = result.message()
    assert text == (
        "2 chamado(s) pausado(s). Não foi possível pausar: "
        f"#{pending.reference} (Pendente); #{resolved.reference} (Resolvido)."
    )
    assert category == "info"
    db.session.expire_all()
    for ticket in working:
        assert ticket.status is TicketStatus.PAUSED
        assert describe_event(_events(ticket)[-1]) == "Status: Em andamento → Pausado (Aguardando fornecedor)"
    assert pending.status is TicketStatus.PENDING
    only_refused = bulk_update(agent_user, [pending.id], "pausar")
    assert only_refused.message() == (f"Não foi possível pausar: #{pending.reference} (Pendente).", "error")


def test_bulk_close_needs_the_message_and_sends_it_on_each_ticket(make_ticket, agent_user):
    tickets = [make_ticket(f"T{i}") for i in range(3)]
    with pytest.raises(ValidationError, match="Escreva a mensagem de encerramento"):
        bulk_update(agent_user, [t.id for t in tickets], "encerrar", message_html="<p> </p>")
    assert {t.status for t in tickets} == {TicketStatus.PENDING}
    change_status(tickets[2], "encerrar", agent_user, message_html="<p>Antes.</p>")
    result = bulk_update(
        agent_user, [t.id for t in tickets], "encerrar", message_html="<p>Trocamos o cabo.</p>"
    )
    assert result.message() == (
        f"2 chamado(s) encerrado(s). Não foi possível encerrar: #{tickets[2].reference} (Resolvido).",
        "info",
    )
    db.session.expire_all()
    for ticket in tickets[:2]:
        assert ticket.status is TicketStatus.RESOLVED and ticket.resolved_at is not None
        closing = db.session.scalars(select(Comment).where(Comment.ticket_id == ticket.id)).one()
        assert (
            closing.body_html == "<p>Trocamos o cabo.</p>" and closing.visibility is CommentVisibility.PUBLIC
        )
        assert ticket.first_response_at == closing.created_at


# --- comments ---------------------------------------------------------------------


def test_a_bulk_change_writes_each_ticket_once(make_ticket, agent_user):
    """The change's own UPDATE moves updated_at (its onupdate): no second UPDATE per ticket."""
    tickets = [make_ticket(f"Chamado {n}") for n in range(3)]
    db.session.commit()
    before = {t.id: t.updated_at for t in tickets}
    updates = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE TICKETS"):
            updates.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = bulk_update(agent_user, [t.id for t in tickets], "prioridade", "HIGH")
        db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert result.changed_count == 3
    assert len(updates) == 3, updates
    assert all(t.updated_at > before[t.id] for t in tickets)
