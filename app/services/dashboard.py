"""Figures and lists for the Painel: the current tenant's (the tenant gate)."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import OPEN_STATUSES, OPEN_TICKET_SQL, OPEN_UNASSIGNED_SQL, Ticket, TicketStatus
from app.models.types import utcnow

LATEST_LIMIT = 15


@dataclass
class DashboardCounters:
    by_status: dict[TicketStatus, int]
    unassigned: int
    resolved_today: int
    waiting_first_response: int


def status_counts() -> dict[TicketStatus, int]:
    """Open tickets per status (resolved ones are counted by day, not in total)."""
    rows = db.session.execute(
        select(Ticket.status, func.count()).where(Ticket.status.in_(OPEN_STATUSES)).group_by(Ticket.status)
    ).all()
    counts = {status: 0 for status in OPEN_STATUSES}
    counts.update({TicketStatus(status): count for status, count in rows})
    return counts


def counters(timezone: str) -> DashboardCounters:
    now = utcnow()
    start_of_day = datetime.combine(now.astimezone(ZoneInfo(timezone)).date(), time.min, ZoneInfo(timezone))
    open_tickets = select(func.count()).select_from(Ticket).where(text(OPEN_TICKET_SQL))
    return DashboardCounters(
        by_status=status_counts(),
        unassigned=db.session.scalar(
            select(func.count()).select_from(Ticket).where(text(OPEN_UNASSIGNED_SQL))
        ),
        resolved_today=db.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.status == TicketStatus.RESOLVED, Ticket.resolved_at >= start_of_day.astimezone(UTC))
        ),
        waiting_first_response=db.session.scalar(
            open_tickets.where(
                Ticket.first_response_at.is_(None), Ticket.created_at < now - timedelta(hours=24)
            )
        ),
    )


def latest_tickets(limit: int = LATEST_LIMIT) -> list[Ticket]:
    """ "Últimos chamados": unassigned first, oldest to newest; then the other open
    tickets, newest first (the seed's rule: nobody's ticket waits at the bottom)."""
    base = (
        select(Ticket)
        .options(joinedload(Ticket.company), joinedload(Ticket.assignee), joinedload(Ticket.requester))
        .limit(limit)
    )
    unassigned = list(
        db.session.scalars(
            base.where(text(OPEN_UNASSIGNED_SQL)).order_by(Ticket.created_at.asc(), Ticket.id.asc())
        )
    )
    remaining = limit - len(unassigned)
    assigned = []
    if remaining > 0:
        assigned = list(
            db.session.scalars(
                base.where(text(OPEN_TICKET_SQL), Ticket.assignee_id.is_not(None))
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(remaining)
            )
        )
    return unassigned + assigned
