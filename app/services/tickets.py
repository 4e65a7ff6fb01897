"""Ticket creation and numbering.

The status life cycle (Iniciar, Pausar, Encerrar, Reabrir) is added by the
tickets workspace; creation lives here from the start because the portal, the
agent API and alerts all create tickets through it.
"""

from sqlalchemy import update

from app.extensions import db
from app.models import Company, Tenant, Ticket, TicketEvent, TicketPriority, User
from app.services.errors import ValidationError
from app.services.html import html_to_text
from app.services.queues import resolve_queue

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
    commit: bool = True,
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
    if commit:
        db.session.commit()
    return ticket
