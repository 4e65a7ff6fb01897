from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Comment, Company, Role, Ticket, TicketStatus, User
from tests.conftest import make_user


def test_email_is_stored_lowercase(tenant):
    user = make_user(tenant, Role.AGENT, email="  Fulano@Example.COM ")
    assert db.session.get(User, user.id).email == "fulano@example.com"


def test_apelido_is_unique_per_tenant_only(tenant, other_tenant, company):
    db.session.add(Company(tenant_id=other_tenant.id, name="Outra", apelido=company.apelido))
    db.session.commit()  # same apelido in another tenant is fine
    db.session.add(Company(tenant_id=tenant.id, name="Duplicada", apelido=company.apelido))
    with pytest.raises(IntegrityError):
        db.session.commit()


def test_companies_get_distinct_provisioning_codes(tenant):
    a = Company(tenant_id=tenant.id, name="A", apelido="a")
    b = Company(tenant_id=tenant.id, name="B", apelido="b")
    db.session.add_all([a, b])
    db.session.commit()
    assert len(a.provisioning_code) == 12 and a.provisioning_code != b.provisioning_code


def test_ticket_description_and_comment_are_sanitised(tenant, queue, agent_user):
    ticket = Ticket(
        tenant_id=tenant.id,
        reference=1,
        subject="x",
        queue_id=queue.id,
        requester_id=agent_user.id,
        description_html='<p onclick="evil()">Olá<script>alert(1)</script> <a href="javascript:x">l</a></p>',
    )
    db.session.add(ticket)
    db.session.flush()
    comment = Comment(
        ticket_id=ticket.id, author_id=agent_user.id, body_html="<img src=x onerror=alert(1)><b>ok</b>"
    )
    db.session.add(comment)
    db.session.commit()
    assert "script" not in ticket.description_html and "onclick" not in ticket.description_html
    assert "javascript:" not in ticket.description_html
    assert ticket.description_html.startswith("<p>Olá")
    assert comment.body_html == "<b>ok</b>"


def test_timestamps_come_back_as_aware_utc(tenant):
    local = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3)))
    tenant.created_at = local
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(type(tenant), tenant.id).created_at
    assert stored.tzinfo is not None
    assert stored == local and stored.astimezone(UTC).hour == 12


def test_naive_datetimes_are_refused(tenant):
    tenant.created_at = datetime(2026, 1, 1)
    with pytest.raises(Exception, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_status_labels_match_the_seed():
    assert [s.label for s in TicketStatus] == ["Pendente", "Em andamento", "Pausado", "Resolvido"]
    assert [s.css for s in TicketStatus] == ["badge-grey", "badge-blue", "badge-yellow", "badge-green"]


def test_staff_roles():
    assert Role.ADMIN.is_staff and Role.MANAGER.is_staff and Role.AGENT.is_staff
    assert not Role.COLLABORATOR.is_staff
