"""The change feed (app/services/feed.py): every committed change a screen shows is one event,
numbered per tenant in commit order, written with the change (a rollback leaves none),
published after the commit; and who may hear of it."""

from sqlalchemy import select

from app.chat.broker import get_broker
from app.extensions import db
from app.models import ChangeEvent, MachineAlert, Role, Tenant
from app.models.types import utcnow
from app.services import feed, tenancy
from app.services.tickets import add_comment, assign, change_status, create_ticket
from tests.conftest import make_user


def kinds(tenant_id=None):
    query = select(ChangeEvent.seq, ChangeEvent.kind).order_by(ChangeEvent.tenant_id, ChangeEvent.seq)
    if tenant_id is not None:
        query = query.where(ChangeEvent.tenant_id == tenant_id)
    return [tuple(row) for row in db.session.execute(query)]


def test_each_change_a_screen_shows_is_one_numbered_event(app, tenant, agent_user, make_ticket):
    ticket = make_ticket("Sem internet")
    # Each in its own unit of work, as each request is (services flush; the boundary commits).
    for change in (
        lambda: assign(ticket, agent_user.id, agent_user),
        lambda: change_status(ticket, "iniciar", agent_user),
        lambda: add_comment(ticket, agent_user, "<p>Reinicie o roteador.</p>", "PUBLIC"),
        lambda: add_comment(ticket, agent_user, "<p>Cliente difícil.</p>", "INTERNAL"),
    ):
        change()
        db.session.commit()
    assert kinds() == [
        (1, "ticket.created"),
        (2, "ticket.assignee"),
        (3, "ticket.status"),
        (4, "comment.public"),
        (5, "comment.internal"),
    ]
    events = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.seq)).all()
    assert {e.ticket_reference for e in events} == {ticket.reference}
    assert [e.internal for e in events] == [False, False, False, False, True]
    assert events[0].requester_id == ticket.requester_id and events[0].company_id == ticket.company_id
    assert db.session.get(Tenant, tenant.id).change_seq == 5


def test_a_rolled_back_change_leaves_no_event_and_no_number(app, tenant, agent_user, make_ticket):
    ticket = make_ticket()
    ticket.subject = "nunca salvo"
    assign(ticket, agent_user.id, agent_user)
    db.session.flush()
    db.session.rollback()
    assert kinds() == [(1, "ticket.created")]
    make_ticket("Outro")
    db.session.commit()
    assert kinds() == [(1, "ticket.created"), (2, "ticket.created")]  # no gap


def test_each_tenant_counts_its_own(app, tenant, other_tenant, make_ticket):
    make_ticket("Daqui")
    stranger = make_user(other_tenant, email="fora@outra.test", role=Role.COLLABORATOR)
    with tenancy.scope(other_tenant.id):
        create_ticket(tenant_id=other_tenant.id, requester=stranger, subject="De lá")
    make_ticket("Daqui de novo")
    assert kinds(tenant.id) == [(1, "ticket.created"), (2, "ticket.created")]
    assert kinds(other_tenant.id) == [(1, "ticket.created")]


def test_devices_alerts_and_chats_are_in_the_feed(app, chat_device, agent_user):
    setup = chat_device()
    machine = setup.machine
    first = len(kinds())
    setup.start(agent_user)
    machine.display_name = "Recepção"
    db.session.commit()
    alert = MachineAlert(tenant_id=machine.tenant_id, machine_id=machine.id, kind="disk_low")
    db.session.add(alert)
    db.session.commit()
    alert.resolved_at = utcnow()
    db.session.commit()
    assert [kind for _seq, kind in kinds()[first:]] == [
        "chat.started",
        "device.updated",
        "alert.opened",
        "alert.resolved",
    ]
    alert_events = db.session.scalars(select(ChangeEvent).where(ChangeEvent.kind.like("alert.%"))).all()
    assert all(e.machine_id == machine.id and e.internal for e in alert_events)


def test_events_are_published_after_the_commit_only(app, tenant, agent_user, make_ticket):
    subscription = get_broker(app).subscribe()
    subscription.listen(feed.feed_channel(tenant.id))
    try:
        ticket = make_ticket()
        assign(ticket, agent_user.id, agent_user)
        assert subscription.get(timeout=0.2)[2]["kind"] == "ticket.created"  # the committed one
        assert subscription.get(timeout=0.2) is None  # not before its commit
        db.session.commit()
        published = subscription.get(timeout=1)[2]
        assert (published["seq"], published["kind"]) == (2, "ticket.assignee")
    finally:
        subscription.close()


def test_who_hears_what():
    public = {"ticket_id": 1, "internal": False, "requester_id": 7, "company_id": 3}
    internal = {**public, "internal": True}
    device = {"ticket_id": None, "internal": True, "machine_id": 9}
    assert feed.may_hear(internal, staff=True) and feed.may_hear(device, staff=True)
    assert feed.may_hear(public, staff=False, user_id=7)  # the requester
    assert not feed.may_hear(internal, staff=False, user_id=7)  # never an internal comment
    assert not feed.may_hear(public, staff=False, user_id=8, company_id=3)  # a colleague
    assert feed.may_hear(public, staff=False, user_id=8, company_id=3, sees_company=True)  # the manager
    assert not feed.may_hear(public, staff=False, user_id=8, company_id=4, sees_company=True)
    assert not feed.may_hear(device, staff=False, user_id=7)


def test_a_device_going_offline_or_online_is_an_event(app, make_machine):
    from datetime import timedelta

    from app.devices import presence
    from app.devices.online import note_online_changes
    from app.models import MachinePresence

    machine = make_machine("caixa-01")
    presence.touch(machine.id, utcnow())
    db.session.commit()
    before = len(kinds())
    assert kinds()[-1][1] == "device.created"
    with tenancy.all_tenants("the job's scope"):
        assert note_online_changes() == (0, False)  # first seen: noted as it is, no event
        db.session.get(MachinePresence, machine.id).last_seen_at = utcnow() - timedelta(minutes=6)
        db.session.commit()
        assert note_online_changes() == (1, False)
        assert note_online_changes() == (0, False)  # told once
        presence.touch(machine.id, utcnow())
        db.session.commit()
        assert note_online_changes() == (1, False)
        db.session.commit()  # the job's boundary
    events = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.seq)).all()[before:]
    assert [(e.kind, e.machine_id, e.internal) for e in events] == [
        ("device.offline", machine.id, True),
        ("device.online", machine.id, True),
    ]


def test_one_commit_may_hold_ticket_and_device_events_together(app, make_machine, make_ticket):
    """One INSERT numbers them all: rows that name different ids (a ticket's, a device's)."""
    from app.services.tickets import record_event

    machine = make_machine("pc-junto")
    ticket = make_ticket("Junto")
    before = len(kinds())
    machine.display_name = "Caixa junto"
    record_event(ticket, "PRIORITY_CHANGED", None, **{"from": "MEDIUM", "to": "HIGH"})
    db.session.commit()
    assert sorted(kind for _seq, kind in kinds()[before:]) == ["device.updated", "ticket.priority"]
