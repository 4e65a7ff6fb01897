"""Who may do what: every permission rule of the app, in one table (RULES, below).

Ask `can(user, capability, target)`: the decorators of app/security.py (`requires`,
`staff_required`, `portal_required`), the views (`security.current_user_can`, which adds the
persona and device of a device session), the templates (`can('admin.companies')`, a Jinja
global for the signed-in visitor) and the services. Nothing else compares roles.

Every ticket query for a user starts from `visible_tickets`, the same rule as "tickets.view"
written as a query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, select

from app.models import Attachment, CommentVisibility, Persona, Role, Ticket, TicketStatus, User
from app.models.types import utcnow

# --- personas ----------------------------------------------------------------------

# How a collaborator acts in the portal when nothing says otherwise (the person's own
# setting, a form that sent none). The columns' defaults in app/models say the same to
# the database.
DEFAULT_PERSONA = Persona.COLLABORATOR


def persona_or_default(value: Persona | str | None) -> Persona:
    """A persona; unset (None, "") is DEFAULT_PERSONA, anything else must be one (ValueError)."""
    return Persona(value or DEFAULT_PERSONA)


def effective_persona(user: User, persona: Persona | str | None = None) -> Persona:
    """A device session acts with the device's persona; otherwise the person's own."""
    return persona_or_default(persona or user.persona)


# --- facts the rules are made of ------------------------------------------------------


def is_admin(user: User) -> bool:
    return user is not None and user.role == Role.ADMIN


def sees_company(user: User, persona: Persona | str | None = None) -> bool:
    """A collaborator acting as their company's manager sees every ticket of it."""
    return effective_persona(user, persona) is Persona.MANAGER and user.company_id is not None


def visible_tickets(user: User, persona: Persona | str | None = None) -> Select:
    """Tickets a user may see: staff their tenant's (the gate's part); a collaborator their own,
    or their company's when acting as its manager."""
    query = select(Ticket)
    if user.is_staff:
        return query
    if sees_company(user, persona):
        return query.where(Ticket.company_id == user.company_id)
    return query.where(Ticket.requester_id == user.id)


def can_view_ticket(user: User, ticket: Ticket, persona: Persona | str | None = None) -> bool:
    """`visible_tickets` for one ticket (a Ticket, or any row with tenant_id, requester_id
    and company_id, such as the chat's ChatTicket)."""
    if user is None or ticket is None or ticket.tenant_id != user.tenant_id:
        return False
    if user.is_staff or ticket.requester_id == user.id:
        return True
    return sees_company(user, persona) and ticket.company_id == user.company_id


def reopen_deadline(ticket: Ticket) -> datetime | None:
    """Until when the requester side may reopen a resolved ticket (PORTAL_REOPEN_DAYS)."""
    if ticket.status != TicketStatus.RESOLVED or ticket.resolved_at is None:
        return None
    return ticket.resolved_at + timedelta(days=current_app.config["PORTAL_REOPEN_DAYS"])


# --- the rules -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who asks: the person, the persona they act with, and the device of a device session."""

    user: User
    persona: Persona
    machine_id: int | None = None


def _staff(visitor: Visitor, _target=None) -> bool:
    return visitor.user.is_staff


def _collaborator(visitor: Visitor, _target=None) -> bool:
    return not visitor.user.is_staff


def _admin(visitor: Visitor, _target=None) -> bool:
    return is_admin(visitor.user)


def _admin_or_manager(visitor: Visitor, _target=None) -> bool:
    return visitor.user.role in (Role.ADMIN, Role.MANAGER)


def _signed_in_themselves(visitor: Visitor, _target=None) -> bool:
    """Signed in with their own password, not through a device session (whoever sits at the
    computer did not prove who they are: no password change there)."""
    return visitor.machine_id is None


def _staff_signed_in_themselves(visitor: Visitor, _target=None) -> bool:
    return visitor.user.is_staff and visitor.machine_id is None


def _sees_ticket(visitor: Visitor, ticket) -> bool:
    return can_view_ticket(visitor.user, ticket, visitor.persona)


def _sees_company(visitor: Visitor, _target=None) -> bool:
    return sees_company(visitor.user, visitor.persona)


def _reopens(visitor: Visitor, ticket: Ticket) -> bool:
    """A resolved ticket: staff any time, the requester side until the reopen deadline."""
    if ticket.status != TicketStatus.RESOLVED:
        return False
    if visitor.user.is_staff:
        return True
    deadline = reopen_deadline(ticket)
    return deadline is not None and utcnow() <= deadline


def _chats(visitor: Visitor, ticket=None) -> bool:
    """Active staff; with a ticket, staff who also see it."""
    user = visitor.user
    return user.is_active and user.is_staff and (ticket is None or _sees_ticket(visitor, ticket))


def _chats_as_customer(visitor: Visitor, ticket=None) -> bool:
    """The person on the other side of a ticket's chat: in a device session, on the device's
    own tickets; signed in to the portal normally, on the tickets they requested. Never staff,
    another device or another company (they must also see the ticket)."""
    user = visitor.user
    if not user.is_active or user.is_staff:
        return False
    if ticket is None:
        return True
    if not _sees_ticket(visitor, ticket):
        return False
    if visitor.machine_id is not None:
        return ticket.machine_id == visitor.machine_id
    return ticket.requester_id == user.id


def _assignable(visitor: Visitor, _target=None) -> bool:
    """Who may be a ticket's responsável: active staff (tickets.staff_member says the same)."""
    return visitor.user.is_active and visitor.user.is_staff


def _merges(visitor: Visitor, ticket=None) -> bool:
    """Staff; with a ticket, staff who also see it (the rules of a merge are in ticket_merge)."""
    return visitor.user.is_staff and (ticket is None or _sees_ticket(visitor, ticket))


def _downloads(visitor: Visitor, attachment: Attachment) -> bool:
    """Who sees the ticket; a file of an internal comment, staff only; a chat file, the
    chat's participants: staff who may chat and the person on the other side."""
    ticket = attachment.ticket
    if not _sees_ticket(visitor, ticket):
        return False
    comment = attachment.comment
    if comment is not None and comment.visibility != CommentVisibility.PUBLIC and not visitor.user.is_staff:
        return False
    if attachment.chat_message_id is not None:
        return _chats(visitor, ticket) or _chats_as_customer(visitor, ticket)
    return True


Rule = Callable[[Visitor, object], bool]

# capability: rule(visitor, target). The target each capability is asked about is noted
# where there is one. A capability nobody wrote here is a KeyError, not a silent "no".
RULES: dict[str, Rule] = {
    # The two sides of the app.
    "staff.pages": _staff,  # Painel, Chamados, Dispositivos, Relatórios, Saúde, the chat widget
    "portal.pages": _collaborator,  # /portal: collaborators, company managers, device sessions
    "portal.company_tickets": _sees_company,  # the portal lists the company's tickets, not one's own
    # Administration.
    "admin.companies": _admin,
    "admin.users": _admin,  # people, devices in Usuários, merging accounts
    "admin.queues": _admin,
    "admin.audit": _admin,
    "admin.jobs": _admin,  # Saúde: "Executar agora", the local archive
    "admin.canned_replies": _admin,  # Respostas prontas: create, edit, delete
    "devices.manage": _admin,  # reset agent, access, links, USB policy, activation, external inventory
    "devices.describe": _staff,  # a device's display name and notes
    "admin.security": _admin,  # require a second factor of the staff; turn off someone's second factor
    # Minha conta.
    "account.password": _signed_in_themselves,  # change the password (the current one, twice the new)
    "account.two_factor": _staff_signed_in_themselves,  # a second factor (TOTP) for signing in
    # Tickets (target: the ticket, one the visitor found through visible_tickets).
    "tickets.view": _sees_ticket,
    "tickets.change_status": _staff,  # every transition but reopening
    "tickets.reopen": _reopens,
    "tickets.comment_internal": _staff,
    "tickets.download": _downloads,  # target: the attachment
    "tickets.assignee": _assignable,  # may be the responsável ("Atribuir a mim")
    "tickets.merge": _merges,  # "Mesclar em outro chamado" (target: the ticket, optional)
    "tickets.canned_replies": _staff,  # insert a resposta pronta in a comment
    # Live chat (target: the ticket, optional).
    "chat.use": _chats,
    "chat.customer": _chats_as_customer,  # the portal's side of a chat (target: the ticket, optional)
    # Reports.
    "reports.export": _staff,
    "reports.all_exports": _admin_or_manager,  # agents see their own exports only
}


def can(
    user: User | None,
    capability: str,
    target=None,
    *,
    persona: Persona | str | None = None,
    machine_id: int | None = None,
) -> bool:
    """Whether `user` may do `capability` (to `target`). In a device session pass the
    device's `persona` and `machine_id` (security.current_user_can does). An anonymous
    visitor may do nothing here. (Not `is_authenticated`: Flask-Login makes that False for a
    deactivated account, and the services ask about people who need not be signed in.)"""
    rule = RULES[capability]
    if user is None or getattr(user, "is_anonymous", True):
        return False
    return rule(Visitor(user, effective_persona(user, persona), machine_id), target)
