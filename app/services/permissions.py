"""Who may see what. Every ticket query for a user starts from `visible_tickets`."""

from sqlalchemy import Select, select

from app.models import Role, Ticket, User


def visible_tickets(user: User) -> Select:
    """Tickets a user may see: staff see their tenant's, collaborators their own."""
    query = select(Ticket).where(Ticket.tenant_id == user.tenant_id)
    if not user.is_staff:
        query = query.where(Ticket.requester_id == user.id)
    return query


def can_view_ticket(user: User, ticket: Ticket) -> bool:
    if user is None or ticket is None or ticket.tenant_id != user.tenant_id:
        return False
    return user.is_staff or ticket.requester_id == user.id


def is_admin(user: User) -> bool:
    return user is not None and user.role == Role.ADMIN
