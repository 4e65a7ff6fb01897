"""The timeline's order, saved per person."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.services import timeline
from app.services.errors import ValidationError
from app.services.tickets import add_comment


def test_oldest_first_unless_the_person_chose_newest_first(make_ticket, agent_user, admin_user):
    ticket = make_ticket(assignee_id=agent_user.id)
    first = add_comment(ticket, agent_user, "<p>Primeiro</p>")
    second = add_comment(ticket, agent_user, "<p>Segundo</p>")
    second.created_at = first.created_at + timedelta(minutes=1)
    db.session.commit()

    assert timeline.order_of(agent_user) == timeline.OLDEST_FIRST
    oldest = timeline.timeline(ticket, include_internal=True)
    assert [e.kind for e in oldest] == ["event", "comment", "comment"]  # CREATED first
    assert [e.item.id for e in oldest if e.kind == "comment"] == [first.id, second.id]

    assert timeline.set_order(agent_user, timeline.NEWEST_FIRST) is True
    assert timeline.set_order(agent_user, timeline.NEWEST_FIRST) is False  # nothing to write
    db.session.expire_all()
    assert timeline.order_of(agent_user) == timeline.NEWEST_FIRST
    assert timeline.order_of(admin_user) == timeline.OLDEST_FIRST  # per person
    newest = timeline.timeline(ticket, include_internal=True, newest_first=True)
    assert [e.item.id for e in newest if e.kind == "comment"] == [second.id, first.id]
    assert newest == list(reversed(oldest))


def test_an_unknown_order_is_refused_and_other_preferences_stay(agent_user):
    agent_user.preferences = {"email_off": ["ticket_assigned"]}
    db.session.commit()
    with pytest.raises(ValidationError, match="Ordem da linha do tempo inválida"):
        timeline.set_order(agent_user, "aleatoria")
    timeline.set_order(agent_user, timeline.NEWEST_FIRST)
    assert agent_user.preferences == {"email_off": ["ticket_assigned"], "timeline_order": "recentes"}
