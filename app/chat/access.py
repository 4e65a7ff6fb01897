"""Who may chat on which ticket: staff who see the ticket, the ticket's own device, and in
the portal the person on the other side (its device session, or its requester); and who may
read a chat's files. Every frame of a socket looks its ticket up (ChatTicket)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from app import db_direct
from app.extensions import db
from app.models import Attachment, Ticket, User
from app.services.errors import DomainError
from app.services.numbers import INT32_MAX
from app.services.permissions import can


def may_chat(user: User | None, ticket: Ticket) -> bool:
    """Staff (admin, manager, agent) of the ticket's tenant who may see the ticket."""
    return can(user, "chat.use", ticket)


def require_chat_permission(actor: User | None, ticket: Ticket, action: str = "usar o chat ao vivo") -> None:
    if not can(actor, "chat.use"):
        raise DomainError(f"Apenas agentes de suporte podem {action}.", status=403, code="forbidden")
    if not can(actor, "tickets.view", ticket):
        raise DomainError("Chamado não encontrado.", status=404, code="ticket_not_found")


@dataclass(frozen=True, slots=True)
class ChatTicket:
    """What the chat needs of a ticket. Every frame of a socket looks its ticket up, so this
    is one read of six columns rather than a Ticket loaded into the session."""

    id: int
    tenant_id: int
    reference: int
    machine_id: int | None
    requester_id: int
    company_id: int | None


# Run by db_direct, outside the ORM session and so outside the gate: the tenant criterion is written here.
_CHAT_TICKET = select(
    Ticket.id, Ticket.tenant_id, Ticket.reference, Ticket.machine_id, Ticket.requester_id, Ticket.company_id
).where(Ticket.tenant_id == bindparam("tenant_id"), Ticket.reference == bindparam("reference"))


def _is_reference(reference: int) -> bool:
    """A number a ticket could have: past an INTEGER column's range no ticket has it, and
    PostgreSQL refuses to compare the column with it (NumericValueOutOfRange)."""
    return 0 < reference <= INT32_MAX


def ticket_for_machine(context_machine_id: int, tenant_id: int, reference: int) -> ChatTicket:
    """A ticket a device may chat on: same tenant (else 404) and linked to this device (else 403)."""
    row = None
    if _is_reference(reference):
        row = db_direct.first_row(_CHAT_TICKET, {"tenant_id": tenant_id, "reference": reference})
    if row is None:
        raise DomainError("Chamado não encontrado.", status=404, code="ticket_not_found")
    ticket = ChatTicket(*row)
    if ticket.machine_id != context_machine_id:
        raise DomainError(
            "Este dispositivo não está vinculado a este chamado.", status=403, code="ticket_not_linked"
        )
    return ticket


def ticket_for_staff(user: User | None, reference: int) -> ChatTicket:
    """A ticket of the user's tenant that the user may chat on (else 404)."""
    row = None
    if user is not None and _is_reference(reference):
        row = db_direct.first_row(_CHAT_TICKET, {"tenant_id": user.tenant_id, "reference": reference})
    ticket = ChatTicket(*row) if row else None
    if ticket is None or not may_chat(user, ticket):
        raise DomainError("Chamado não encontrado.", status=404, code="ticket_not_found")
    return ticket


def ticket_for_person(
    user: User | None, reference: int, *, persona=None, machine_id: int | None = None
) -> ChatTicket:
    """A ticket whose chat this portal visitor is the other side of (permissions'
    "chat.customer": the device session's device, or the requester), else 404."""
    row = None
    if user is not None and _is_reference(reference):
        row = db_direct.first_row(_CHAT_TICKET, {"tenant_id": user.tenant_id, "reference": reference})
    ticket = ChatTicket(*row) if row else None
    if ticket is None or not can(user, "chat.customer", ticket, persona=persona, machine_id=machine_id):
        raise DomainError("Chamado não encontrado.", status=404, code="ticket_not_found")
    return ticket


def may_read_attachment(attachment: Attachment, *, machine_id: int) -> bool:
    """A chat file goes to its ticket's device (the agent API). Staff and device sessions in a
    browser ask permissions' "tickets.download", which has the same rule for the device."""
    return attachment.ticket.machine_id == machine_id


def chat_attachment(ticket: Ticket, attachment_id: int, *, machine_id: int) -> Attachment | None:
    """A chat file of this ticket, for its device; None when it is not one."""
    if not 0 < attachment_id <= INT32_MAX:
        return None
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket.id or attachment.chat_message_id is None:
        return None
    return attachment if may_read_attachment(attachment, machine_id=machine_id) else None
