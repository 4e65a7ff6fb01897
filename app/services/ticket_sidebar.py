"""The ticket page's sidebar: who asked (their company, their other open tickets) and the
device the ticket is about (online, last inventory, open alerts). Read-only, a handful of
bounded queries, rendered on the server next to the conversation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from app.devices.alerts import ALERT_LABELS
from app.devices.online import is_online, machine_last_seen
from app.devices.read_models import format_os_version
from app.extensions import db
from app.models import (
    OPEN_STATUSES,
    Company,
    InventorySnapshot,
    Machine,
    MachineAlert,
    Ticket,
    User,
)
from app.services.permissions import visible_tickets

OTHER_TICKETS = 5  # the requester's other open tickets shown
OPEN_ALERTS = 5  # the device's open alerts listed (all are counted)


@dataclass
class DeviceCard:
    machine: Machine
    online: bool
    last_seen_at: datetime | None
    last_inventory_at: datetime | None
    os_label: str
    open_alert_count: int
    open_alerts: list[MachineAlert] = field(default_factory=list)

    def alert_label(self, alert: MachineAlert) -> str:
        return ALERT_LABELS.get(alert.kind, alert.kind)


@dataclass
class Sidebar:
    requester: User
    company: Company | None
    other_open: list[Ticket]
    more_open: bool  # more than OTHER_TICKETS
    device: DeviceCard | None


def sidebar(viewer: User, ticket: Ticket) -> Sidebar:
    requester = ticket.requester
    others = db.session.scalars(
        visible_tickets(viewer)
        .where(
            Ticket.requester_id == requester.id,
            Ticket.id != ticket.id,
            Ticket.status.in_(OPEN_STATUSES),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(OTHER_TICKETS + 1)
    ).all()
    return Sidebar(
        requester=requester,
        company=ticket.company or requester.company,
        other_open=list(others[:OTHER_TICKETS]),
        more_open=len(others) > OTHER_TICKETS,
        device=_device_card(ticket.machine) if ticket.machine_id else None,
    )


def _device_card(machine: Machine | None) -> DeviceCard | None:
    if machine is None:
        return None
    last_seen = machine_last_seen(machine.id)
    open_alerts = MachineAlert.machine_id == machine.id, MachineAlert.resolved_at.is_(None)
    return DeviceCard(
        machine=machine,
        online=is_online(last_seen),
        last_seen_at=last_seen,
        last_inventory_at=db.session.scalar(
            select(func.max(InventorySnapshot.created_at)).where(InventorySnapshot.machine_id == machine.id)
        ),
        os_label=format_os_version(machine.os_name, machine.os_version, machine.os_build),
        open_alert_count=db.session.scalar(select(func.count(MachineAlert.id)).where(*open_alerts)) or 0,
        open_alerts=list(
            db.session.scalars(
                select(MachineAlert)
                .where(*open_alerts)
                .order_by(MachineAlert.opened_at.desc(), MachineAlert.id.desc())
                .limit(OPEN_ALERTS)
            )
        ),
    )
