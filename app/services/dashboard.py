"""Figures for the Painel."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import Ticket, TicketStatus


def status_counts(tenant_id: int) -> dict[TicketStatus, int]:
    rows = db.session.execute(
        select(Ticket.status, func.count()).where(Ticket.tenant_id == tenant_id).group_by(Ticket.status)
    ).all()
    counts = {status: 0 for status in TicketStatus}
    counts.update({TicketStatus(status): count for status, count in rows})
    return counts
