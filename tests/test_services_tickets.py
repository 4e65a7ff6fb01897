import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Queue, Role, TicketEvent, TicketPriority
from app.services.errors import ValidationError
from app.services.tickets import create_ticket
from tests.conftest import make_user


def test_references_are_sequential_per_tenant(tenant, other_tenant, collaborator):
    outsider = make_user(other_tenant, Role.AGENT)
    first = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Um")
    second = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Dois")
    elsewhere = create_ticket(tenant_id=other_tenant.id, requester=outsider, subject="Outro")
    assert (first.reference, second.reference, elsewhere.reference) == (1, 2, 1)


def test_ticket_without_queue_goes_to_chamados_created_if_missing(tenant, collaborator):
    assert db.session.scalar(select(Queue).where(Queue.tenant_id == tenant.id)) is None
    ticket = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Impressora")
    assert ticket.queue.name == "Chamados"
    again = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Outra")
    assert again.queue_id == ticket.queue_id


def test_queue_of_another_tenant_falls_back_to_chamados(tenant, other_tenant, collaborator):
    foreign = Queue(tenant_id=other_tenant.id, name="Deles")
    db.session.add(foreign)
    db.session.commit()
    ticket = create_ticket(tenant_id=tenant.id, requester=collaborator, subject="x", queue_id=foreign.id)
    assert ticket.queue.tenant_id == tenant.id and ticket.queue.name == "Chamados"


def test_ticket_takes_the_requesters_company_and_logs_creation(tenant, collaborator):
    ticket = create_ticket(
        tenant_id=tenant.id,
        requester=collaborator,
        subject="  Sem   internet ",
        description_html="<p>Desde ontem</p>",
        priority="HIGH",
    )
    assert ticket.subject == "Sem internet"
    assert ticket.company_id == collaborator.company_id
    assert ticket.priority is TicketPriority.HIGH
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    assert [(e.type, e.actor_id, e.payload["preview"]) for e in events] == [
        ("CREATED", collaborator.id, "Desde ontem")
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"subject": "   "}, "subject"), ({"subject": "x" * 201}, "subject"), ({"priority": "NOW"}, "priority")],
)
def test_invalid_tickets_are_refused_with_the_field_named(tenant, collaborator, changes, field):
    arguments = {"tenant_id": tenant.id, "requester": collaborator, "subject": "ok", **changes}
    with pytest.raises(ValidationError) as error:
        create_ticket(**arguments)
    assert error.value.field == field
