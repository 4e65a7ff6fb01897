"""The collaborators' portal: what a requester (or a company manager, or a device
session) may list, open, comment and reopen. The rules are the ticket service's;
this module scopes them to the portal viewer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Machine, Persona, Ticket, TicketStatus, User
from app.services import tickets as ticket_service
from app.services.attachments import save_attachment
from app.services.errors import NotFound, ValidationError
from app.services.permissions import sees_company, visible_tickets

PAGE_SIZE = 20
MAX_PAGE = 500  # a hard bound: 10 000 tickets deep is far past anyone's scrolling


@dataclass
class PortalViewer:
    """Who looks at the portal: the person, the persona they act with, and the device of a device session."""

    user: User
    persona: Persona
    machine: Machine | None = None

    @property
    def sees_company(self) -> bool:
        return sees_company(self.user, self.persona)


@dataclass
class TicketPage:
    tickets: list[Ticket]
    page: int
    has_next: bool
    total: int


def list_tickets(viewer: PortalViewer, status: str | None = None, page: int = 1) -> TicketPage:
    query = visible_tickets(viewer.user, viewer.persona)
    if status:
        try:
            query = query.where(Ticket.status == TicketStatus(status))
        except ValueError:
            raise ValidationError("Status inválido.", field="status") from None
    page = min(max(page, 1), MAX_PAGE)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(
        query.options(joinedload(Ticket.assignee), joinedload(Ticket.requester))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    return TicketPage(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE and page < MAX_PAGE, total)


def get_ticket(viewer: PortalViewer, reference: int) -> Ticket:
    """A ticket the viewer may see; any other (company, person, tenant) is NotFound (404)."""
    ticket = db.session.scalar(
        visible_tickets(viewer.user, viewer.persona).where(Ticket.reference == reference)
    )
    if ticket is None:
        raise NotFound("Chamado não encontrado.")
    return ticket


def open_ticket(
    viewer: PortalViewer, subject: str, description_html: str, files: list[tuple[str, bytes]] = ()
) -> Ticket:
    """Opened in "Chamados", requested by the viewer; in a device session, linked to the device."""
    ticket = ticket_service.create_ticket(
        tenant_id=viewer.user.tenant_id,
        requester=viewer.user,
        subject=subject,
        description_html=description_html,
        machine_id=viewer.machine.id if viewer.machine else None,
        company_id=(viewer.machine.company_id if viewer.machine else None) or viewer.user.company_id,
    )
    for filename, data in files:
        save_attachment(ticket, viewer.user, filename, data)
    db.session.flush()
    return ticket
