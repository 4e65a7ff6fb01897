from datetime import UTC, datetime, timedelta

from app.extensions import db
from app.models import TicketStatus
from app.models.types import utcnow
from app.services.dashboard import counters, latest_tickets


def _at(ticket, when):
    ticket.created_at = when
    db.session.commit()
    return ticket


def test_latest_puts_unassigned_first_oldest_to_newest_then_the_rest_newest_first(
    tenant, make_ticket, agent_user
):
    base = datetime(2026, 6, 1, 12, tzinfo=UTC)
    unassigned_new = _at(make_ticket("U-nova"), base + timedelta(hours=3))
    unassigned_old = _at(make_ticket("U-antiga"), base + timedelta(hours=1))
    assigned_old = _at(make_ticket("A-antiga", assignee_id=agent_user.id), base)
    assigned_new = _at(make_ticket("A-nova", assignee_id=agent_user.id), base + timedelta(hours=5))
    _at(make_ticket("Resolvida", status=TicketStatus.RESOLVED), base + timedelta(hours=6))
    order = [t.subject for t in latest_tickets()]
    assert order == ["U-antiga", "U-nova", "A-nova", "A-antiga"]
    assert unassigned_new and unassigned_old and assigned_old and assigned_new
    assert [t.subject for t in latest_tickets(limit=3)] == ["U-antiga", "U-nova", "A-nova"]


def test_counters(tenant, make_ticket, agent_user):
    now = utcnow()
    make_ticket("Pendente sem resposta", created_at=now - timedelta(hours=30))
    make_ticket("Pendente recente")
    make_ticket(
        "Em andamento",
        status=TicketStatus.IN_PROGRESS,
        assignee_id=agent_user.id,
        created_at=now - timedelta(hours=30),
        first_response_at=now - timedelta(hours=29),
    )
    make_ticket("Pausado", status=TicketStatus.PAUSED, assignee_id=agent_user.id)
    make_ticket("Resolvido hoje", status=TicketStatus.RESOLVED, resolved_at=now)
    make_ticket("Resolvido antes", status=TicketStatus.RESOLVED, resolved_at=now - timedelta(days=3))
    figures = counters("America/Sao_Paulo")
    assert figures.by_status == {TicketStatus.PENDING: 2, TicketStatus.IN_PROGRESS: 1, TicketStatus.PAUSED: 1}
    assert figures.unassigned == 2
    assert figures.resolved_today == 1
    assert figures.waiting_first_response == 1
