"""The ticket page's sidebar: the requester's other open tickets and the device's state."""

from datetime import timedelta

from sqlalchemy import event

from app.extensions import db
from app.models import InventorySnapshot, MachineAlert, MachinePresence, Role, TicketStatus
from app.models.types import utcnow
from app.services.ticket_sidebar import OPEN_ALERTS, OTHER_TICKETS, sidebar
from tests.conftest import make_user


def test_the_requesters_other_open_tickets_newest_first_at_most_five(
    make_ticket, agent_user, collaborator, tenant, company
):
    ticket = make_ticket("Este")
    others = [make_ticket(f"Outro {i}") for i in range(OTHER_TICKETS + 2)]
    make_ticket("Já resolvido", status=TicketStatus.RESOLVED)
    make_ticket("De outra pessoa", requester=make_user(tenant, Role.COLLABORATOR, company=company))
    side = sidebar(agent_user, ticket)
    assert side.requester == collaborator and side.company == company
    assert [t.subject for t in side.other_open] == [t.subject for t in reversed(others)][:OTHER_TICKETS]
    assert side.more_open is True
    assert side.device is None  # no device linked
    newest = sidebar(agent_user, others[-1])
    assert others[-1] not in newest.other_open and others[-2] in newest.other_open  # never itself


def test_the_device_card_online_inventory_and_open_alerts(make_ticket, make_machine, agent_user):
    machine = make_machine("recepcao-01", display_name="Recepção", os_name="Windows 11 Pro", os_build="26100")
    now = utcnow()
    db.session.add(MachinePresence(machine_id=machine.id, last_seen_at=now))
    db.session.add(InventorySnapshot(machine_id=machine.id, content_hash="a", inventory={}, created_at=now))
    for index in range(OPEN_ALERTS + 2):
        db.session.add(
            MachineAlert(
                tenant_id=machine.tenant_id,
                machine_id=machine.id,
                kind="disk_low" if index == 0 else f"kind_{index}",
                opened_at=now - timedelta(hours=index),
            )
        )
    db.session.add(
        MachineAlert(tenant_id=machine.tenant_id, machine_id=machine.id, kind="cpu_high", resolved_at=now)
    )
    db.session.commit()
    ticket = make_ticket("Lento", machine_id=machine.id)
    device = sidebar(agent_user, ticket).device
    assert device.machine == machine and device.online is True
    assert device.last_inventory_at == now and device.os_label == "Windows 11 Pro (26100)"
    assert device.open_alert_count == OPEN_ALERTS + 2
    assert len(device.open_alerts) == OPEN_ALERTS
    assert device.alert_label(device.open_alerts[0]) == "Pouco espaço em disco"

    machine_presence = db.session.get(MachinePresence, machine.id)
    machine_presence.last_seen_at = now - timedelta(days=1)
    db.session.commit()
    assert sidebar(agent_user, ticket).device.online is False


def test_the_sidebar_reads_a_fixed_number_of_queries(make_ticket, make_machine, agent_user):
    machine = make_machine()
    ticket = make_ticket("Com dispositivo", machine_id=machine.id)

    def count_queries(extra_tickets: int) -> int:
        for index in range(extra_tickets):
            make_ticket(f"Mais {index}")
        db.session.expire_all()
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            side = sidebar(agent_user, db.session.get(type(ticket), ticket.id))
            assert side.device is not None
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    assert count_queries(1) == count_queries(20)
