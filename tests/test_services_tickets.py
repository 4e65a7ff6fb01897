from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Comment,
    CommentVisibility,
    Queue,
    Role,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
)
from app.models.types import utcnow
from app.services import tenancy, tickets, timeline
from app.services.errors import Conflict, ValidationError
from app.services.tickets import (
    add_comment,
    allowed_actions,
    assign,
    change_priority,
    change_queue,
    change_status,
    create_ticket,
    open_ticket_for,
)
from app.services.timeline import describe_event, format_duration
from tests.conftest import make_user


def _events(ticket):
    return db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ).all()


# --- creation -------------------------------------------------------------------


def test_references_are_sequential_per_tenant(tenant, other_tenant, collaborator):
    outsider = make_user(other_tenant, Role.AGENT)
    first = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Um")
    second = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Dois")
    with tenancy.scope(other_tenant.id):  # the other tenant's work, in its own rows
        elsewhere = create_ticket(tenant_id=other_tenant.id, requester=outsider, subject="Outro")
    assert (first.reference, second.reference, elsewhere.reference) == (1, 2, 1)


def test_ticket_without_queue_goes_to_chamados_created_if_missing(tenant, collaborator):
    assert db.session.scalar(select(Queue).where(Queue.tenant_id == tenant.id)) is None
    ticket = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Impressora")
    assert ticket.queue.name == "Chamados"
    again = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Outra")
    assert again.queue_id == ticket.queue_id


def test_queue_of_another_tenant_falls_back_to_chamados(tenant, other_tenant, collaborator):
    foreign = Queue(tenant_id=other_tenant.id, name="Deles")
    db.session.add(foreign)
    db.session.commit()
    ticket = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="x", queue_id=foreign.id)
    assert ticket.queue.tenant_id == tenant.id and ticket.queue.name == "Chamados"


def test_ticket_takes_the_requesters_company_and_logs_creation(tenant, collaborator):
    ticket = create_ticket(
        tenant_id=tenant.id,
        requester=collaborator,
        subject="  Sem   internet ",
        description_html="<p>Desde ontem</p>",
        priority="HIGH",
    )
    assert ticket.subject == "Sem internet" and ticket.description_text == "Desde ontem"
    assert ticket.company_id == collaborator.company_id
    assert ticket.priority is TicketPriority.HIGH and ticket.priority_rank == 3
    assert [(e.type, e.actor_id) for e in _events(ticket)] == [("CREATED", collaborator.id)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"subject": "   "}, "subject"), ({"subject": "x" * 201}, "subject"), ({"priority": "NOW"}, "priority")],
)
def test_invalid_tickets_are_refused_with_the_field_named(tenant, collaborator, changes, field):
    arguments = {"tenant_id": tenant.id, "requester": collaborator, "subject": "ok", **changes}
    with pytest.raises(ValidationError) as error:
        create_ticket(**arguments)
    assert error.value.field == field


def test_staff_open_tickets_on_behalf_of_someone(agent_user, collaborator):
    ticket = open_ticket_for(
        agent_user, subject="Pelo telefone", requester_email=collaborator.email, assignee_id=agent_user.id
    )
    assert ticket.requester_id == collaborator.id and ticket.assignee_id == agent_user.id
    with pytest.raises(ValidationError, match="Solicitante não encontrado"):
        open_ticket_for(agent_user, subject="x", requester_email="ninguem@acme.test")


# --- transitions ------------------------------------------------------------------


def test_iniciar_moves_to_em_andamento_and_takes_the_ticket(make_ticket, agent_user):
    ticket = make_ticket()
    change_status(ticket, "iniciar", agent_user, expected_status="PENDING")
    assert ticket.status is TicketStatus.IN_PROGRESS
    assert ticket.assignee_id == agent_user.id
    assert ticket.in_progress_since is not None
    # Starting is not an answer: the requester has heard nothing yet (only a public reply counts).
    assert ticket.first_response_at is None
    assert [e.type for e in _events(ticket)] == ["CREATED", "STATUS_CHANGED", "ASSIGNED"]


def test_iniciar_keeps_an_existing_assignee(make_ticket, agent_user, admin_user):
    ticket = make_ticket(assignee_id=admin_user.id)
    change_status(ticket, "iniciar", agent_user)
    assert ticket.assignee_id == admin_user.id


def test_pause_with_reason_adds_worked_time(make_ticket, agent_user):
    ticket = make_ticket()
    change_status(ticket, "iniciar", agent_user)
    ticket.in_progress_since = utcnow() - timedelta(minutes=42)
    db.session.commit()
    change_status(ticket, "pausar", agent_user, expected_status="IN_PROGRESS", reason="Aguardando peça")
    assert ticket.status is TicketStatus.PAUSED
    assert 42 * 60 <= ticket.worked_seconds < 43 * 60 and ticket.in_progress_since is None
    assert describe_event(_events(ticket)[-1]) == "Status: Em andamento → Pausado (Aguardando peça)"
    change_status(ticket, "iniciar", agent_user)
    ticket.in_progress_since = utcnow() - timedelta(minutes=18)
    assert format_duration(ticket.worked_seconds_now) == "1h 00min"


def test_encerrar_needs_a_message_and_stores_it_as_public_comment(make_ticket, agent_user):
    ticket = make_ticket(assignee_id=agent_user.id)
    with pytest.raises(ValidationError, match="mensagem de encerramento"):
        change_status(ticket, "encerrar", agent_user, message_html="<p> </p>")
    assert db.session.get(type(ticket), ticket.id).status is TicketStatus.PENDING
    change_status(ticket, "encerrar", agent_user, message_html="<p>Trocamos o cabo.</p>")
    assert ticket.status is TicketStatus.RESOLVED and ticket.resolved_at is not None
    comment = db.session.scalar(select(Comment).where(Comment.ticket_id == ticket.id))
    assert comment.body_html == "<p>Trocamos o cabo.</p>" and comment.visibility is CommentVisibility.PUBLIC


def test_reabrir_returns_to_pendente(make_ticket, agent_user):
    ticket = make_ticket()
    change_status(ticket, "encerrar", agent_user, message_html="ok")
    change_status(ticket, "reabrir", agent_user, expected_status="RESOLVED")
    assert ticket.status is TicketStatus.PENDING and ticket.resolved_at is None


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("RESOLVED", "pausar"),
        ("RESOLVED", "iniciar"),
        ("PENDING", "pausar"),
        ("PENDING", "reabrir"),
        ("IN_PROGRESS", "iniciar"),
        ("PAUSED", "pausar"),
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(make_ticket, agent_user, status, action):
    ticket = make_ticket(status=TicketStatus(status))
    events_before = len(_events(ticket))
    with pytest.raises(Conflict) as error:
        change_status(ticket, action, agent_user, message_html="x")
    assert error.value.status == 409 and "Não é possível" in error.value.message
    assert db.session.get(type(ticket), ticket.id).status == TicketStatus(status)
    assert len(_events(ticket)) == events_before


def test_stale_page_is_refused_with_409(make_ticket, agent_user, admin_user):
    ticket = make_ticket()
    change_status(ticket, "iniciar", admin_user, expected_status="PENDING")
    with pytest.raises(Conflict, match="alterado por outra pessoa e agora está Em andamento"):
        change_status(ticket, "iniciar", agent_user, expected_status="PENDING")
    assert ticket.assignee_id == admin_user.id


def test_concurrent_change_loses_at_the_database(make_ticket, agent_user):
    """Another request changes the row after this one read it: the UPDATE matches nothing."""
    ticket = make_ticket()
    assert ticket.status is TicketStatus.PENDING  # loaded in this session
    with db.engine.begin() as other_request:
        other_request.execute(Ticket.__table__.update().where(Ticket.id == ticket.id).values(status="PAUSED"))
    with pytest.raises(Conflict, match="agora está Pausado"):
        change_status(ticket, "iniciar", agent_user, expected_status="PENDING")
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status is TicketStatus.PAUSED
    assert db.session.get(Ticket, ticket.id).assignee_id is None


def test_allowed_actions_follow_the_status(make_ticket):
    assert allowed_actions(make_ticket(status=TicketStatus.PENDING)) == ["iniciar", "encerrar"]
    assert allowed_actions(make_ticket(status=TicketStatus.IN_PROGRESS)) == ["pausar", "encerrar"]
    assert allowed_actions(make_ticket(status=TicketStatus.PAUSED)) == ["iniciar", "encerrar"]
    assert allowed_actions(make_ticket(status=TicketStatus.RESOLVED)) == ["reabrir"]


# --- assignment, queue, priority, bulk ---------------------------------------------


def test_assignment_changes_write_events_and_no_op_writes_nothing(make_ticket, agent_user, admin_user):
    ticket = make_ticket()
    assert assign(ticket, agent_user.id, admin_user) is True
    assert assign(ticket, agent_user.id, admin_user) is False
    assert assign(ticket, None, admin_user) is True
    assert [describe_event(e) for e in _events(ticket)][1:] == [
        "Atribuído a Artur Agente",
        "Responsável removido",
    ]


def test_only_active_staff_of_the_tenant_can_be_assigned(
    make_ticket, tenant, admin_user, collaborator, other_tenant
):
    ticket = make_ticket()
    for bad in (
        collaborator,
        make_user(other_tenant, Role.AGENT),
        make_user(tenant, Role.AGENT, active=False),
    ):
        with pytest.raises(ValidationError, match="Responsável inválido"):
            assign(ticket, bad.id, admin_user)


def test_queue_and_priority_changes(make_ticket, tenant, agent_user):
    ticket = make_ticket()
    infra = Queue(tenant_id=tenant.id, name="Infraestrutura")
    db.session.add(infra)
    db.session.commit()
    assert change_queue(ticket, infra.id, agent_user) and change_priority(ticket, "URGENT", agent_user)
    assert ticket.priority_rank == 4
    assert [describe_event(e) for e in _events(ticket)][1:] == [
        "Fila: Chamados → Infraestrutura",
        "Prioridade: Média → Urgente",
    ]


def test_staff_cannot_comment_before_someone_is_assigned(make_ticket, agent_user):
    ticket = make_ticket()
    with pytest.raises(Conflict, match="Atribua um responsável"):
        add_comment(ticket, agent_user, "<p>Olá</p>")


def test_public_staff_comment_is_the_first_response(make_ticket, agent_user):
    ticket = make_ticket(assignee_id=agent_user.id)
    add_comment(ticket, agent_user, "<p>Nota interna</p>", "INTERNAL")
    assert ticket.first_response_at is None
    add_comment(
        ticket, agent_user, "<p>Olá!</p><script>x</script>", "PUBLIC", files=[("log.txt", b"linha 1\n")]
    )
    assert ticket.first_response_at is not None
    comments = db.session.scalars(
        select(Comment).where(Comment.ticket_id == ticket.id).order_by(Comment.id)
    ).all()
    assert [c.body_html for c in comments] == ["<p>Nota interna</p>", "<p>Olá!</p>"]
    assert [a.filename for a in comments[1].attachments] == ["log.txt"]


def test_first_response_is_the_first_public_reply_by_staff_only(make_ticket, agent_user, collaborator):
    ticket = make_ticket(assignee_id=agent_user.id)
    change_status(ticket, "iniciar", agent_user)
    change_status(ticket, "pausar", agent_user, reason="Aguardando peça")
    add_comment(ticket, agent_user, "<p>Nota</p>", "INTERNAL")
    add_comment(ticket, collaborator, "<p>Alguma novidade?</p>", "PUBLIC")
    assert ticket.first_response_at is None
    reply = add_comment(ticket, agent_user, "<p>Peça chega amanhã.</p>", "PUBLIC")
    assert ticket.first_response_at == reply.created_at
    add_comment(ticket, agent_user, "<p>Chegou.</p>", "PUBLIC")
    assert ticket.first_response_at == reply.created_at  # the first one stays


def test_a_closing_message_is_a_first_response(make_ticket, agent_user):
    ticket = make_ticket(assignee_id=agent_user.id)
    change_status(ticket, "encerrar", agent_user, message_html="<p>Resolvido por telefone.</p>")
    closing = db.session.scalars(select(Comment).where(Comment.ticket_id == ticket.id)).one()
    assert ticket.first_response_at == closing.created_at


def test_collaborators_cannot_write_internal_comments(make_ticket, collaborator):
    with pytest.raises(ValidationError):
        add_comment(make_ticket(), collaborator, "<p>x</p>", "INTERNAL")


def test_an_empty_comment_is_refused(make_ticket, agent_user):
    ticket = make_ticket(assignee_id=agent_user.id)
    with pytest.raises(ValidationError, match="Escreva o comentário"):
        add_comment(ticket, agent_user, "<p>  </p>")
    assert db.session.scalar(select(func.count()).select_from(Comment)) == 0


def test_lunch_auto_pause_pauses_only_the_internal_queue(make_ticket, agent_user, tenant):
    internal = Queue(tenant_id=tenant.id, name="Interno")
    db.session.add(internal)
    db.session.commit()
    lunch = make_ticket("Interno em andamento", queue_id=internal.id)
    other = make_ticket("Cliente em andamento")
    waiting = make_ticket("Interno pendente", queue_id=internal.id)
    for ticket in (lunch, other):
        tickets.change_status(ticket, "iniciar", agent_user)

    assert tickets.auto_pause_queue("Interno") == (1, False)
    db.session.expire_all()
    assert (
        lunch.status == TicketStatus.PAUSED and lunch.worked_seconds >= 0 and lunch.in_progress_since is None
    )
    assert other.status == TicketStatus.IN_PROGRESS and waiting.status == TicketStatus.PENDING
    entries = [e for e in timeline.timeline(lunch, include_internal=True) if e.kind == "event"]
    assert entries[-1].item.payload == {
        "from": "IN_PROGRESS",
        "to": "PAUSED",
        "reason": tickets.LUNCH_PAUSE_REASON,
    }
    assert entries[-1].item.actor_id is None
    # Idempotent: nothing left to pause, and nothing is resumed.
    assert tickets.auto_pause_queue("Interno") == (0, False)
    assert db.session.get(type(lunch), lunch.id).status == TicketStatus.PAUSED


@pytest.mark.parametrize(
    ("event_type", "payload", "expected"),
    [
        # What the old demo seeder wrote: a status change without the previous status.
        ("STATUS_CHANGED", {"to": "RESOLVED"}, "Status: Resolvido"),
        ("STATUS_CHANGED", {}, "Status alterado"),
        ("STATUS_CHANGED", {"from": "SOMETHING", "to": 7}, "Status alterado"),
        ("STATUS_CHANGED", {"from": "PAUSED", "to": "IN_PROGRESS", "reason": None}, None),
        ("PRIORITY_CHANGED", {"to": "HIGH"}, "Prioridade: Alta"),
        ("PRIORITY_CHANGED", None, "Prioridade alterada"),
        ("QUEUE_CHANGED", {"to_name": "Rede"}, "Fila: Rede"),
        ("ASSIGNED", {}, "Responsável alterado"),
        ("LIVE_CHAT_STARTED", {}, "Chat ao vivo iniciado pela equipe"),
        ("LIVE_CHAT_ENDED", {"durationMs": "lots"}, "Chat ao vivo encerrado pela equipe (duração 0 min)"),
        (
            "LIVE_CHAT_ENDED",
            {"autoEnded": True, "reason": None, "durationMs": 1e400},
            "Chat ao vivo encerrado automaticamente: motivo não informado (duração 0 min)",
        ),
        ("SOMETHING_A_LATER_RELEASE_WRITES", {"x": 1}, "Alteração registrada"),
    ],
)
def test_any_stored_event_shape_renders_as_a_sentence(event_type, payload, expected):
    event = TicketEvent(type=event_type, payload=payload)
    text = describe_event(event)
    assert text == (expected or "Status: Pausado → Em andamento")
    assert describe_event(event, public=True)  # the portal's wording renders too
