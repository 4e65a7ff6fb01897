"""Merging a duplicate ticket into the one that stays: what moves, the numbering of chat
messages, the duplicate resolved with a note, the events on both timelines, the audit and
the rules that refuse a merge."""

import pytest
from sqlalchemy import func, select

from app.chat.messages import IncomingFile, post_message
from app.chat.sessions import end_session, start_session
from app.extensions import db
from app.models import (
    Attachment,
    AuditLog,
    ChangeEvent,
    ChatMessage,
    Comment,
    CommentVisibility,
    Company,
    EmailMessage,
    LiveChatSession,
    MachineAlert,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from app.services import ticket_merge
from app.services.errors import Conflict, DomainError, PermissionDenied, ValidationError
from app.services.tickets import add_comment, change_status
from app.services.timeline import describe_event, merged_with, timeline
from app.services.transaction import committed
from tests.conftest import make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _count(model, ticket) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(model.ticket_id == ticket.id))


def _events(ticket) -> list[TicketEvent]:
    return db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ).all()


def test_every_schema_reference_to_tickets_is_handled():
    handled = {model.__table__.name for model, _label in ticket_merge.MOVED}
    handled |= {model.__table__.name for model in ticket_merge.NOT_MOVED}
    in_schema = {
        table.name
        for table in db.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "tickets"
    }
    assert in_schema == handled


def _chat(ticket, agent, *bodies, file=False):
    start_session(agent, ticket)
    posted = [post_message(ticket, author=agent, from_device=False, body=body) for body in bodies]
    if file:
        posted.append(
            post_message(
                ticket,
                author=None,
                from_device=True,
                body="",
                files=[IncomingFile("t.png", PNG, "image/png")],
            )
        )
    end_session(agent, ticket)
    return posted


def test_merge_moves_everything_keeps_times_and_renumbers_chat(chat_device, agent_user, admin_user):
    setup = chat_device()
    survivor = setup.ticket
    duplicate = _make_duplicate(survivor, setup.machine_id)
    survivor.assignee_id = duplicate.assignee_id = agent_user.id
    db.session.commit()
    _chat(survivor, agent_user, "um", "dois")  # seq 1, 2
    change_status(duplicate, "iniciar", agent_user)
    reply = add_comment(duplicate, agent_user, "<p>Resposta no duplicado</p>", files=[("log.txt", b"x\n")])
    internal = add_comment(duplicate, agent_user, "<p>Nota</p>", "INTERNAL")
    moved_chat = _chat(duplicate, agent_user, "a", "b", file=True)  # seq 1, 2, 3 on the duplicate
    alert = MachineAlert(
        tenant_id=survivor.tenant_id, machine_id=setup.machine_id, kind="disk_low", ticket_id=duplicate.id
    )
    db.session.add(alert)
    db.session.commit()
    times = {c.id: c.created_at for c in (reply, internal)}
    event_times = {e.id: e.created_at for e in _events(duplicate)}
    moving_events = len(event_times)

    preview = dict(ticket_merge.preview(duplicate, survivor, agent_user).counts)
    assert preview == {
        "Comentários": 2,
        "Anexos": 2,
        "Eventos da linha do tempo": moving_events,
        "Sessões de chat": 1,
        "Mensagens de chat": 3,
        "Alertas de dispositivo": 1,
    }
    assert _count(Comment, survivor) == 0  # a preview changes nothing

    ticket_merge.merge(duplicate, survivor, agent_user)
    db.session.commit()  # as its request would

    # Everything moved, with its time.
    moved = db.session.scalars(select(Comment).where(Comment.id.in_(times))).all()
    assert {c.ticket_id for c in moved} == {survivor.id}
    assert {c.id: c.created_at for c in moved} == times
    assert {a.ticket_id for a in db.session.scalars(select(Attachment))} == {survivor.id}
    assert db.session.get(MachineAlert, alert.id).ticket_id == survivor.id
    for event_id, at in event_times.items():
        event = db.session.get(TicketEvent, event_id)
        assert event.ticket_id == survivor.id and event.created_at == at
        assert event.payload["merged_from"] == duplicate.reference
    # Chat: the moved messages come after the survivor's, the sessions' counters with them.
    seqs = db.session.execute(
        select(ChatMessage.body, ChatMessage.seq)
        .where(ChatMessage.ticket_id == survivor.id)
        .order_by(ChatMessage.seq)
    ).all()
    assert seqs == [("um", 1), ("dois", 2), ("a", 3), ("b", 4), ("", 5)]
    sessions = db.session.scalars(
        select(LiveChatSession).where(LiveChatSession.ticket_id == survivor.id).order_by(LiveChatSession.id)
    ).all()
    assert [s.last_seq for s in sessions] == [2, 5]
    assert moved_chat[-1].attachments[0].ticket_id == survivor.id

    # The duplicate: resolved, with a public note linking the survivor, and the events.
    db.session.expire_all()
    assert duplicate.status is TicketStatus.RESOLVED
    note = db.session.scalars(select(Comment).where(Comment.ticket_id == duplicate.id)).one()
    assert note.visibility is CommentVisibility.PUBLIC
    assert (
        f'<a href="{survivor.reference}" rel="noopener noreferrer nofollow">#{survivor.reference}</a>'
        in note.body_html
    )
    assert "Impressora não imprime" in note.body_html
    assert [describe_event(e) for e in _events(duplicate)] == [
        "Status: Em andamento → Resolvido",
        f"Mesclado no chamado #{survivor.reference}",
    ]
    assert ticket_merge.merged_into(duplicate) == survivor.reference
    assert ticket_merge.merged_into(survivor) is None
    merged_from = _events(survivor)[-1]
    assert describe_event(merged_from) == f"Chamado #{duplicate.reference} mesclado neste"
    assert merged_with(merged_from) == duplicate.reference
    lines = [describe_event(e.item) for e in timeline(survivor, include_internal=True) if e.kind == "event"]
    assert f"Chamado #{duplicate.reference} aberto" in lines
    assert f"Status: Pendente → Em andamento (no chamado #{duplicate.reference})" in lines
    assert survivor.chat_enabled is True

    # The first response: the earlier of the two; here the duplicate's reply.
    assert survivor.first_response_at == times[reply.id]

    # Audited, and both tickets' screens told (the change feed).
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "chamado.mesclar")).one()
    assert entry.actor_id == agent_user.id and entry.target_id == survivor.id
    assert entry.target_label == f"#{duplicate.reference} → #{survivor.reference}"
    assert entry.changes["mesclado"] == [f"#{duplicate.reference}", f"#{survivor.reference}"]
    assert entry.changes["Comentários"] == [0, 2]
    told = set(db.session.scalars(select(ChangeEvent.ticket_reference)))
    assert {duplicate.reference, survivor.reference} <= told
    # The requester of the duplicate is told by e-mail that it was resolved, with the note.
    resolved_mail = db.session.scalars(
        select(EmailMessage).where(
            EmailMessage.ticket_id == duplicate.id, EmailMessage.kind == "ticket_resolved"
        )
    ).one()
    assert f"#{survivor.reference}" in resolved_mail.body_text

    # The next chat on the survivor continues the numbering of both histories.
    start_session(agent_user, survivor)
    assert post_message(survivor, author=agent_user, from_device=False, body="depois").seq == 6


def _make_duplicate(survivor, machine_id=None, **fields):
    from app.services.tickets import create_ticket

    ticket = create_ticket(
        tenant_id=survivor.tenant_id,
        requester=fields.pop("requester", survivor.requester),
        subject=fields.pop("subject", "Impressora não imprime (de novo)"),
        company_id=fields.pop("company_id", survivor.company_id),
        machine_id=machine_id,
    )
    for key, value in fields.items():
        setattr(ticket, key, value)
    db.session.commit()
    return ticket


def test_a_failed_merge_moves_nothing(make_ticket, agent_user):
    survivor = make_ticket("Fica", assignee_id=agent_user.id)
    duplicate = make_ticket("Duplicado", assignee_id=agent_user.id)
    add_comment(duplicate, agent_user, "<p>Oi</p>")
    db.session.commit()
    # Someone resolves the duplicate behind this person's back: the status change is stale.
    db.session.execute(
        Ticket.__table__.update().where(Ticket.__table__.c.id == duplicate.id).values(status="PAUSED")
    )
    with pytest.raises(Conflict, match="alterado por outra pessoa"):
        committed(ticket_merge.merge)(duplicate, survivor, agent_user)  # as its request would run it
    db.session.expire_all()
    assert _count(Comment, duplicate) == 1 and _count(Comment, survivor) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_the_rules_that_refuse_a_merge(make_ticket, agent_user, collaborator, tenant, company, chat_device):
    open_one = make_ticket("Aberto")
    other = make_ticket("Outro")
    resolved = make_ticket("Resolvido", status=TicketStatus.RESOLVED)
    refusals = [
        (open_one, open_one, ValidationError, "nele mesmo"),
        (open_one, resolved, Conflict, f"#{resolved.reference} está resolvido"),
        (resolved, open_one, Conflict, "reabra-o antes"),
    ]
    elsewhere = Company(tenant_id=tenant.id, name="Mercado Bom Preço", apelido="bompreco")
    db.session.add(elsewhere)
    db.session.commit()
    foreign = make_ticket("De outra empresa", company_id=elsewhere.id)
    refusals.append((open_one, foreign, ValidationError, "empresas diferentes"))
    loner = make_user(tenant, Role.COLLABORATOR, name="Sem empresa")
    alone_a = make_ticket("Sem empresa A", requester=loner)
    alone_b = make_ticket("Sem empresa B", requester=make_user(tenant, Role.COLLABORATOR))
    refusals.append((alone_a, alone_b, ValidationError, "mesmo solicitante"))
    setup = chat_device()
    start_session(agent_user, setup.ticket)
    same_company = _make_duplicate(setup.ticket)
    refusals.append((same_company, setup.ticket, Conflict, "Encerre o chat ao vivo"))
    for source, target, error, message in refusals:
        with pytest.raises(error, match=message):
            ticket_merge.merge(source, target, agent_user)
    with pytest.raises(PermissionDenied):
        ticket_merge.merge(open_one, other, collaborator)
    # Without a company, the same requester's tickets do merge.
    alone_c = make_ticket("Sem empresa C", requester=loner)
    ticket_merge.merge(alone_c, alone_a, agent_user)
    assert alone_c.status is TicketStatus.RESOLVED
    assert issubclass(Conflict, DomainError)
