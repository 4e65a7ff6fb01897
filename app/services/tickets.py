"""Tickets: creation and numbering, the status life cycle, assignment, queue and
priority changes, comments and the timeline. The staff UI, the portal, the
agent API and the workers all go through these functions.
"""

from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    Attachment,
    Comment,
    CommentVisibility,
    Company,
    Queue,
    Tenant,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
    User,
)
from app.models.types import utcnow
from app.services import notifications
from app.services.attachments import save_attachment
from app.services.errors import Conflict, PermissionDenied, ValidationError
from app.services.html import html_to_text
from app.services.permissions import can
from app.services.queues import resolve_queue
from app.services.users import find_user

SUBJECT_MAX = 200


def next_reference(tenant_id: int) -> int:
    """Hand out the tenant's next ticket number.

    A single UPDATE ... RETURNING increments the counter atomically; on
    PostgreSQL it also holds the tenant row until commit, so two requests never
    get the same number.
    """
    statement = (
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(ticket_sequence=Tenant.ticket_sequence + 1)
        .returning(Tenant.ticket_sequence)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(statement).scalar_one()


def record_event(ticket: Ticket, event_type: str, actor: User | None, **payload) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id, type=event_type, actor_id=actor.id if actor else None, payload=payload
    )
    db.session.add(event)
    return event


def create_ticket(
    *,
    tenant_id: int,
    requester: User,
    subject: str,
    description_html: str = "",
    queue_id: int | None = None,
    company_id: int | None = None,
    priority: TicketPriority | str = TicketPriority.MEDIUM,
    machine_id: int | None = None,
    actor: User | None = None,
) -> Ticket:
    """Open a ticket. Without a queue it goes to "Chamados" (created if missing)."""
    subject = " ".join((subject or "").split())
    if not subject:
        raise ValidationError("Informe o assunto do chamado.", field="subject")
    if len(subject) > SUBJECT_MAX:
        raise ValidationError(f"O assunto pode ter no máximo {SUBJECT_MAX} caracteres.", field="subject")
    try:
        priority = TicketPriority(priority)
    except ValueError:
        raise ValidationError("Prioridade inválida.", field="priority") from None
    if requester.tenant_id != tenant_id:
        raise ValidationError("Solicitante inválido.", field="requester")

    company_id = company_id or requester.company_id
    if company_id is not None:
        company = db.session.get(Company, company_id)
        if company is None or company.tenant_id != tenant_id:
            raise ValidationError("Empresa inválida.", field="company")

    ticket = Ticket(
        tenant_id=tenant_id,
        reference=next_reference(tenant_id),
        subject=subject,
        description_html=description_html,
        priority=priority,
        queue_id=resolve_queue(tenant_id, queue_id).id,
        company_id=company_id,
        requester_id=requester.id,
        machine_id=machine_id,
    )
    db.session.add(ticket)
    db.session.flush()
    record_event(
        ticket,
        "CREATED",
        actor or requester,
        subject=subject,
        preview=html_to_text(ticket.description_html)[:200],
    )
    notifications.notify_ticket_opened(ticket)
    db.session.flush()
    return ticket


# --- life cycle -------------------------------------------------------------
#
# Every status change goes through `change_status`, whoever asks (staff UI,
# portal, agent API, workers). The UPDATE only applies while the ticket still
# has the status the person saw, so two agents clicking on the same stale page
# cannot both win.

TRANSITIONS: dict[str, tuple[frozenset[TicketStatus], TicketStatus]] = {
    "iniciar": (frozenset({TicketStatus.PENDING, TicketStatus.PAUSED}), TicketStatus.IN_PROGRESS),
    "pausar": (frozenset({TicketStatus.IN_PROGRESS}), TicketStatus.PAUSED),
    "encerrar": (
        frozenset({TicketStatus.PENDING, TicketStatus.IN_PROGRESS, TicketStatus.PAUSED}),
        TicketStatus.RESOLVED,
    ),
    "reabrir": (frozenset({TicketStatus.RESOLVED}), TicketStatus.PENDING),
}
ACTION_VERBS = {"iniciar": "iniciar", "pausar": "pausar", "encerrar": "encerrar", "reabrir": "reabrir"}


def allowed_actions(ticket: Ticket) -> list[str]:
    return [action for action, (sources, _target) in TRANSITIONS.items() if ticket.status in sources]


def _stale(ticket: Ticket) -> Conflict:
    db.session.refresh(ticket)  # the status someone else gave it
    return Conflict(
        f"O chamado foi alterado por outra pessoa e agora está {TicketStatus(ticket.status).label}. "
        "Recarregue a página.",
        code="stale_ticket",
    )


def change_status(
    ticket: Ticket,
    action: str,
    actor: User,
    *,
    expected_status: str | None = None,
    message_html: str = "",
    reason: str = "",
) -> Ticket:
    """Move the ticket by `action`, in the caller's unit of work (a request, a ticket merge)."""
    if action not in TRANSITIONS:
        raise ValidationError("Ação desconhecida.", field="action")
    if action != "reabrir" and not can(actor, "tickets.change_status", ticket):
        raise PermissionDenied("Apenas a equipe de suporte altera o status do chamado.")
    sources, _target = TRANSITIONS[action]
    current = TicketStatus(ticket.status)
    try:
        expected = TicketStatus(expected_status) if expected_status else current
    except ValueError:
        raise ValidationError("Status esperado inválido.", field="expected_status") from None
    if expected != current:
        raise _stale(ticket)
    if current not in sources:
        raise Conflict(
            f"Não é possível {ACTION_VERBS[action]} um chamado {current.label}.", code="invalid_transition"
        )
    if action == "encerrar" and not html_to_text(message_html):
        raise ValidationError("Escreva a mensagem de encerramento.", field="message")
    if action == "reabrir" and not can(actor, "tickets.reopen", ticket):
        raise Conflict(
            f"O prazo para reabrir este chamado terminou ({current_app.config['PORTAL_REOPEN_DAYS']} dias "
            "após a resolução). Abra um novo chamado.",
            code="reopen_window_closed",
        )

    now = utcnow()
    _apply_transition(ticket, action, expected, actor, now, reason)
    notifications.notify_status(ticket, current, TRANSITIONS[action][1], actor, message_html)
    if message_html and html_to_text(message_html) and action in ("encerrar", "reabrir"):
        db.session.add(
            Comment(
                ticket_id=ticket.id,
                author_id=actor.id,
                body_html=message_html,
                visibility=CommentVisibility.PUBLIC,
                created_at=now,
            )
        )
        # The closing message is a public reply: it answers a ticket nobody had answered yet.
        note_public_reply(ticket, actor, now)
    db.session.flush()
    db.session.refresh(ticket)  # the UPDATE's values
    return ticket


def _apply_transition(
    ticket: Ticket, action: str, expected: TicketStatus, actor: User | None, now: datetime, reason: str = ""
) -> None:
    """Move the ticket (if it is still `expected`) and write the timeline events.

    `actor` None is the system (the lunch auto-pause job)."""
    _sources, target = TRANSITIONS[action]
    values: dict = {"status": target, "updated_at": now}
    if expected == TicketStatus.IN_PROGRESS and ticket.in_progress_since:
        elapsed = int((now - ticket.in_progress_since).total_seconds())
        values.update(worked_seconds=(ticket.worked_seconds or 0) + max(elapsed, 0), in_progress_since=None)
    if target == TicketStatus.IN_PROGRESS:
        # Starting work is not an answer: only a public staff comment is the first response.
        values["in_progress_since"] = now
    if target == TicketStatus.RESOLVED:
        values["resolved_at"] = now
    if action == "reabrir":
        # A reopened ticket is news: its archived copy is out of date.
        values.update(resolved_at=None, archived_at=None)
    take_over = action == "iniciar" and ticket.assignee_id is None and actor is not None
    if take_over:
        values["assignee_id"] = actor.id

    result = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _stale(ticket)

    payload = {"from": expected.value, "to": target.value}
    if reason.strip():
        payload["reason"] = reason.strip()[:500]
    record_event(ticket, "STATUS_CHANGED", actor, **payload)
    if take_over:
        record_event(ticket, "ASSIGNED", actor, to=actor.id, to_name=actor.name, from_name=None)


LUNCH_PAUSE_REASON = "Pausa automática do almoço"
AUTO_PAUSE_BATCH = 500


def auto_pause_queue(
    queue_name: str, now: datetime | None = None, batch: int = AUTO_PAUSE_BATCH
) -> tuple[int, bool]:
    """Pause every ticket Em andamento in the current tenant's queue of that name (the lunch
    job goes tenant by tenant).

    Resumes nothing: people start their tickets again after lunch. Returns
    (paused, more remain). A ticket someone moved meanwhile is skipped, not an error.
    """
    now = now or utcnow()
    tickets = list(
        db.session.scalars(
            select(Ticket)
            .join(Queue, Queue.id == Ticket.queue_id)
            .where(Queue.name == queue_name, Ticket.status == TicketStatus.IN_PROGRESS)
            .order_by(Ticket.id)
            .limit(batch + 1)
        )
    )
    paused = 0
    for ticket in tickets[:batch]:
        try:
            _apply_transition(ticket, "pausar", TicketStatus.IN_PROGRESS, None, now, LUNCH_PAUSE_REASON)
        except Conflict:
            continue  # moved by someone meanwhile: its UPDATE changed nothing
        paused += 1
    return paused, len(tickets) > batch


# --- assignment, queue, priority -------------------------------------------


def staff_member(tenant_id: int, user_id: int | None) -> User | None:
    """An active staff member of the tenant, or a ValidationError."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.tenant_id != tenant_id or not user.is_staff or not user.is_active:
        raise ValidationError("Responsável inválido: escolha um agente da lista.", field="assignee")
    return user


def assign(ticket: Ticket, assignee_id: int | None, actor: User) -> bool:
    """Set or clear the assignee. Returns False when nothing changed (nothing is written)."""
    assignee = staff_member(ticket.tenant_id, assignee_id)
    if ticket.assignee_id == (assignee.id if assignee else None):
        return False
    previous = ticket.assignee
    ticket.assignee = assignee
    record_event(
        ticket,
        "ASSIGNED" if assignee else "UNASSIGNED",
        actor,
        to=assignee.id if assignee else None,
        to_name=assignee.name if assignee else None,
        from_name=previous.name if previous else None,
    )
    notifications.notify_assigned(ticket, assignee, actor)
    db.session.flush()
    return True


def change_queue(ticket: Ticket, queue_id: int, actor: User) -> bool:
    queue = db.session.get(Queue, queue_id) if queue_id else None
    if queue is None or queue.tenant_id != ticket.tenant_id:
        raise ValidationError("Fila inválida.", field="queue")
    if ticket.queue_id == queue.id:
        return False
    previous = ticket.queue.name
    ticket.queue = queue
    record_event(ticket, "QUEUE_CHANGED", actor, from_name=previous, to_name=queue.name)
    db.session.flush()
    return True


def change_priority(ticket: Ticket, priority: str, actor: User) -> bool:
    try:
        priority = TicketPriority(priority)
    except ValueError:
        raise ValidationError("Prioridade inválida.", field="priority") from None
    if ticket.priority == priority:
        return False
    previous = TicketPriority(ticket.priority)
    ticket.priority = priority
    record_event(ticket, "PRIORITY_CHANGED", actor, **{"from": previous.value, "to": priority.value})
    db.session.flush()
    return True


# --- comments -----------------------------------------------------------------


def note_public_reply(ticket: Ticket, author: User, at: datetime) -> None:
    """The first response: the first public reply by staff (a comment or a closing message).

    Starting, assigning or an internal note do not count: the requester has heard nothing yet."""
    if author.is_staff and ticket.first_response_at is None:
        ticket.first_response_at = at


def add_comment(
    ticket: Ticket,
    author: User,
    body_html: str,
    visibility: str = CommentVisibility.PUBLIC,
    files: list[tuple[str, bytes]] = (),
) -> Comment:
    try:
        visibility = CommentVisibility(visibility)
    except ValueError:
        raise ValidationError("Visibilidade inválida.", field="visibility") from None
    if visibility is CommentVisibility.INTERNAL and not can(author, "tickets.comment_internal", ticket):
        raise ValidationError("Comentários internos são apenas da equipe.", field="visibility")
    if author.is_staff and ticket.assignee_id is None:
        raise Conflict("Atribua um responsável antes de comentar.", code="no_assignee")
    if not html_to_text(body_html) and not files:
        raise ValidationError("Escreva o comentário ou anexe um arquivo.", field="body")

    now = utcnow()
    comment = Comment(
        ticket_id=ticket.id, author_id=author.id, body_html=body_html, visibility=visibility, created_at=now
    )
    db.session.add(comment)
    db.session.flush()
    for filename, data in files:
        save_attachment(ticket, author, filename, data, comment_id=comment.id)
    ticket.updated_at = now
    if visibility is CommentVisibility.PUBLIC:
        note_public_reply(ticket, author, now)
    notifications.notify_comment(ticket, comment, author)
    db.session.flush()
    return comment


def ticket_attachments(ticket: Ticket) -> list[Attachment]:
    """Files sent with the ticket itself (not with a comment nor in the chat)."""
    return db.session.scalars(
        select(Attachment)
        .where(
            Attachment.ticket_id == ticket.id,
            Attachment.comment_id.is_(None),
            Attachment.chat_message_id.is_(None),
        )
        .order_by(Attachment.id)
    ).all()


def open_ticket_for(
    actor: User,
    *,
    subject: str,
    description_html: str = "",
    queue_id: int | None = None,
    priority: str = "MEDIUM",
    company_id: int | None = None,
    requester_email: str = "",
    assignee_id: int | None = None,
) -> Ticket:
    """Staff open a ticket for themselves or on behalf of someone of the tenant."""
    requester = actor
    if requester_email.strip():
        requester = find_user(requester_email)
        if requester is None:
            raise ValidationError(
                "Solicitante não encontrado: use o e-mail de um usuário cadastrado.", field="requester_email"
            )
    assignee = staff_member(actor.tenant_id, assignee_id)
    ticket = create_ticket(
        tenant_id=actor.tenant_id,
        requester=requester,
        subject=subject,
        description_html=description_html,
        queue_id=queue_id,
        company_id=company_id,
        priority=priority,
        actor=actor,
    )
    if assignee is not None:
        assign(ticket, assignee.id, actor)
    return ticket
