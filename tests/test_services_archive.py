"""The local JSONL archive: resolved tickets out, and back in, without duplicates."""

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select

from app.extensions import db
from app.models import Comment, Tenant, Ticket, TicketEvent, TicketStatus
from app.models.types import utcnow
from app.services import archive, tickets


def resolved_ticket(make_ticket, agent_user, subject, days_ago):
    ticket = make_ticket(subject, description_html="<p>Impressora <strong>parada</strong></p>")
    tickets.change_status(ticket, "iniciar", agent_user)
    tickets.add_comment(ticket, agent_user, "<p>Troquei o toner.</p>")
    tickets.add_comment(ticket, agent_user, "<p>Nota interna</p>", visibility="INTERNAL")
    tickets.change_status(ticket, "encerrar", agent_user, message_html="<p>Resolvido.</p>")
    ticket.resolved_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()
    return ticket


def snapshot(ticket_id):
    ticket = db.session.get(Ticket, ticket_id)
    comments = db.session.scalars(select(Comment).where(Comment.ticket_id == ticket_id).order_by(Comment.id))
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    )
    return {
        "ticket": (
            ticket.reference,
            ticket.subject,
            ticket.description_html,
            ticket.status,
            ticket.requester_id,
            ticket.assignee_id,
            ticket.created_at,
            ticket.resolved_at,
            ticket.worked_seconds,
        ),
        "comments": [(c.author_id, c.body_html, c.visibility, c.created_at) for c in comments],
        "events": [(e.type, e.payload, e.actor_id, e.created_at) for e in events],
    }


def test_archive_then_restore_brings_tickets_back_as_they_were(make_ticket, agent_user, tmp_path):
    old = resolved_ticket(make_ticket, agent_user, "Impressora do financeiro", days_ago=400)
    recent = resolved_ticket(make_ticket, agent_user, "Resolvido ontem", days_ago=1)
    still_open = make_ticket("Ainda aberto")
    before = snapshot(old.id)

    result = archive.archive_resolved(365, str(tmp_path))
    assert (result.tickets, result.comments) == (1, 3)  # two comments + the closing message
    lines = Path(result.path).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["ticket"]["subject"] == "Impressora do financeiro"
    assert db.session.get(Ticket, old.id).archived_at is not None
    assert db.session.get(Ticket, recent.id).archived_at is None

    # The database loses the ticket (a restore from an old backup, a bad manual delete...).
    old_id = old.id
    db.session.execute(delete(Comment).where(Comment.ticket_id == old_id))
    db.session.execute(delete(TicketEvent).where(TicketEvent.ticket_id == old_id))
    db.session.execute(delete(Ticket).where(Ticket.id == old_id))
    db.session.commit()
    db.session.expire_all()

    restored = archive.restore_archive(result.path)
    assert (restored.restored, restored.already_present, restored.skipped) == (1, 0, {})
    back = db.session.scalar(select(Ticket).where(Ticket.reference == before["ticket"][0]))
    after = snapshot(back.id)
    assert after == before
    assert back.status == TicketStatus.RESOLVED and still_open.status == TicketStatus.PENDING

    # Restoring the same file again changes nothing.
    again = archive.restore_archive(result.path)
    assert (again.restored, again.already_present) == (0, 1)


def test_archiving_twice_writes_nothing_new_and_a_reopened_ticket_is_archived_again(
    make_ticket, agent_user, collaborator, tmp_path, app
):
    ticket = resolved_ticket(make_ticket, agent_user, "Sem rede", days_ago=30)
    first = archive.archive_resolved(7, str(tmp_path))
    second = archive.archive_resolved(7, str(tmp_path))
    assert (first.tickets, second.tickets, second.path) == (1, 0, None)
    assert len(list(tmp_path.glob("*.jsonl"))) == 1

    app.config["PORTAL_REOPEN_DAYS"] = 60
    tickets.change_status(ticket, "reabrir", collaborator, message_html="<p>Voltou a cair</p>")
    assert db.session.get(Ticket, ticket.id).archived_at is None
    tickets.change_status(ticket, "encerrar", agent_user, message_html="<p>Agora sim.</p>")
    ticket.resolved_at = utcnow() - timedelta(days=10)
    db.session.commit()
    third = archive.archive_resolved(7, str(tmp_path))
    assert third.tickets == 1
    app.config["PORTAL_REOPEN_DAYS"] = 7


def test_restore_into_a_tenant_whose_counter_is_behind_moves_the_counter(
    make_ticket, agent_user, tenant, tmp_path
):
    reference = resolved_ticket(make_ticket, agent_user, "Antigo", days_ago=100).reference
    path = archive.archive_resolved(30, str(tmp_path)).path
    db.session.execute(delete(Comment))
    db.session.execute(delete(TicketEvent))
    db.session.execute(delete(Ticket))
    db.session.get(Tenant, tenant.id).ticket_sequence = 0
    db.session.commit()
    assert archive.restore_archive(path).restored == 1
    assert make_ticket("Novo depois da restauração").reference == reference + 1


def test_lines_that_cannot_be_restored_are_counted_not_fatal(tmp_path):
    path = tmp_path / "ruim.jsonl"
    path.write_text(
        'não é json\n{"format": "outro"}\n'
        + json.dumps({"format": archive.FORMAT, "ticket": {"tenant": "inexistente", "reference": 1}})
        + "\n"
    )
    result = archive.restore_archive(str(path))
    assert result.restored == 0
    assert result.skipped == {"linha_invalida": 1, "formato_desconhecido": 1, "tenant_inexistente": 1}
