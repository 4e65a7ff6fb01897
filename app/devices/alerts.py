"""Posture alerts (`cpu_high`, `service_stopped`, `smart_failing`, `disk_low`...): one open
alert per kind and device, resolved when the agent stops reporting it; a new one opens a
ticket unless MACHINE_ALERTS_CREATE_TICKETS is off."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from markupsafe import escape
from sqlalchemy import select

from app.extensions import db
from app.models import AlertSeverity, Machine, MachineAlert, Role, TicketPriority, User
from app.services import notifications
from app.services.tickets import create_ticket
from app.services.users import find_user

ALERT_LABELS = {
    "cpu_high": "CPU alta",
    "service_stopped": "Serviço parado",
    "smart_failing": "Disco com falha (SMART)",
    "disk_low": "Pouco espaço em disco",
}
SEVERITY_PRIORITY = {
    AlertSeverity.INFO: TicketPriority.MEDIUM,
    AlertSeverity.WARNING: TicketPriority.HIGH,
    AlertSeverity.CRITICAL: TicketPriority.URGENT,
}


def has_open_alerts(machine_id: int) -> bool:
    return (
        db.session.scalar(
            select(MachineAlert.id)
            .where(MachineAlert.machine_id == machine_id, MachineAlert.resolved_at.is_(None))
            .limit(1)
        )
        is not None
    )


def sync_alerts(machine: Machine, reported: list[dict], now: datetime) -> tuple[list[MachineAlert], int]:
    """Open what is newly reported, resolve what is no longer reported; never duplicate."""
    open_alerts = {
        a.kind: a
        for a in db.session.scalars(
            select(MachineAlert).where(
                MachineAlert.machine_id == machine.id, MachineAlert.resolved_at.is_(None)
            )
        )
    }
    reported_by_kind = {str(a["kind"])[:60]: a for a in reported}
    opened = []
    for kind, alert in reported_by_kind.items():
        if kind in open_alerts:
            continue
        record = MachineAlert(
            tenant_id=machine.tenant_id,
            machine_id=machine.id,
            kind=kind,
            severity=AlertSeverity(alert.get("severity", "warning")),
            details=alert.get("details") or {},
            opened_at=now,
        )
        db.session.add(record)
        opened.append(record)
    resolved = 0
    for kind, alert in open_alerts.items():
        if kind not in reported_by_kind:
            alert.resolved_at = now
            resolved += 1
    if opened and current_app.config["MACHINE_ALERTS_CREATE_TICKETS"]:
        db.session.flush()
        for alert in opened:
            alert.ticket_id = _open_alert_ticket(machine, alert).id
    return opened, resolved


def alert_requester(tenant_id: int) -> User:
    """The account alert tickets are opened by (created, unable to log in, if missing)."""
    email = current_app.config["MACHINE_ALERTS_TICKET_REQUESTER_EMAIL"]
    user = find_user(email)
    if user is None:
        user = User(
            tenant_id=tenant_id, email=email, name="Alertas de dispositivos", role=Role.AGENT, is_active=False
        )
        db.session.add(user)
        db.session.flush()
    return user


def _open_alert_ticket(machine: Machine, alert: MachineAlert):
    label = ALERT_LABELS.get(alert.kind, alert.kind)
    # Everything the agent sent is text: escape it before it becomes HTML.
    details = "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in sorted((alert.details or {}).items()))
    description = f"<p>O agente do dispositivo {escape(machine.hostname)} informou: {escape(label)}.</p>"
    ticket = create_ticket(
        tenant_id=machine.tenant_id,
        requester=alert_requester(machine.tenant_id),
        subject=f"Alerta: {label} em {machine.hostname}",
        description_html=description + (f"<ul>{details}</ul>" if details else ""),
        company_id=machine.company_id,
        priority=SEVERITY_PRIORITY[alert.severity],
        machine_id=machine.id,
    )
    notifications.notify_alert_ticket(ticket, machine)
    return ticket
