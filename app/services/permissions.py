"""Who may see what. Every ticket query for a user starts from `visible_tickets`."""

from sqlalchemy import Select, select

from app.models import Persona, Role, Ticket, User


def effective_persona(user: User, persona: Persona | str | None = None) -> Persona:
    """A device session acts with the device's persona; otherwise the person's own."""
    return Persona(persona or user.persona or Persona.COLLABORATOR)


def sees_company(user: User, persona: Persona | str | None = None) -> bool:
    """A collaborator acting as their company's manager sees every ticket of it."""
    return effective_persona(user, persona) is Persona.MANAGER and user.company_id is not None


def visible_tickets(user: User, persona: Persona | str | None = None) -> Select:
    """Tickets a user may see: staff their tenant's; a collaborator their own, or their
    company's when acting as its manager."""
    query = select(Ticket).where(Ticket.tenant_id == user.tenant_id)
    if user.is_staff:
        return query
    if sees_company(user, persona):
        return query.where(Ticket.company_id == user.company_id)
    return query.where(Ticket.requester_id == user.id)


def can_view_ticket(user: User, ticket: Ticket, persona: Persona | str | None = None) -> bool:
    if user is None or ticket is None or ticket.tenant_id != user.tenant_id:
        return False
    if user.is_staff or ticket.requester_id == user.id:
        return True
    return sees_company(user, persona) and ticket.company_id == user.company_id


def is_admin(user: User) -> bool:
    return user is not None and user.role == Role.ADMIN
