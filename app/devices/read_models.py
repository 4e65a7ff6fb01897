"""Read models for the Dispositivos pages: the filtered list, the 24-hour chart, the labels."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from app.devices.online import offline_sql, online_sql
from app.extensions import db
from app.models import (
    Company,
    Machine,
    MachineAlert,
    MachinePresence,
    MachineToken,
    MetricSample,
    Ticket,
    User,
)
from app.models.types import utcnow
from app.services.errors import ValidationError

PAGE_SIZE = 50
STATES = {"": "Todos", "online": "Online", "offline": "Offline"}


@dataclass
class DeviceFilters:
    company_id: int | None = None
    state: str = ""
    text: str = ""


def parse_device_filters(args, tenant_id: int) -> DeviceFilters:
    filters = DeviceFilters(
        state=args.get("estado", "") if args.get("estado") in STATES else "",
        text=" ".join(args.get("q", "").split())[:120],
    )
    if args.get("empresa"):
        try:
            company = db.session.get(Company, int(args["empresa"]))
        except ValueError:
            company = None
        if company is None or company.tenant_id != tenant_id:
            raise ValidationError("Empresa não encontrada.", field="empresa")
        filters.company_id = company.id
    return filters


def list_devices(filters: DeviceFilters, after_id: int | None = None):
    """A page of the current tenant's devices (keyset on id) with their last-seen time."""
    query = (
        select(Machine, MachinePresence.last_seen_at)
        .outerjoin(MachinePresence, MachinePresence.machine_id == Machine.id)
        .options(joinedload(Machine.company), joinedload(Machine.assigned_user))
    )
    if filters.company_id:
        query = query.where(Machine.company_id == filters.company_id)
    if filters.state == "online":
        query = query.where(online_sql())
    elif filters.state == "offline":
        query = query.where(offline_sql())
    if filters.text:
        pattern = f"%{filters.text.lower()}%"
        people = select(User.id).where(or_(func.lower(User.name).like(pattern), User.email.like(pattern)))
        query = query.where(
            or_(
                func.lower(Machine.hostname).like(pattern),
                func.lower(Machine.display_name).like(pattern),
                func.lower(func.cast(Machine.serial_numbers, db.String)).like(pattern),
                Machine.assigned_user_id.in_(people),
            )
        )
    if after_id:
        query = query.where(Machine.id > after_id)
    rows = db.session.execute(query.order_by(Machine.id).limit(PAGE_SIZE + 1)).unique().all()
    next_after = rows[PAGE_SIZE - 1][0].id if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], next_after


def format_os_version(name: str | None, version: str | None = None, build: str | None = None) -> str:
    """ "Windows 11 Pro (26100)", "Debian GNU/Linux 12 (bookworm)": the major never twice."""
    name = " ".join((name or "").split())
    version = " ".join((version or "").split())
    build = " ".join((build or "").split())
    label = name
    if version and version.split()[0] not in name.split():
        label = f"{label} {version}".strip()
    if build and build not in label:
        label = f"{label} ({build})"
    return label or "Sistema desconhecido"


def chart_points(machine_id: int, hours: int = 24, width: int = 600, height: int = 120) -> dict:
    """CPU and memory of the last hours as SVG polyline points (no JavaScript)."""
    since = utcnow() - timedelta(hours=hours)
    samples = db.session.execute(
        select(MetricSample.taken_at, MetricSample.cpu_percent, MetricSample.memory_percent)
        .where(MetricSample.machine_id == machine_id, MetricSample.taken_at >= since)
        .order_by(MetricSample.taken_at)
        .limit(2000)
    ).all()

    def points(index: int) -> str:
        coords = []
        for row in samples:
            value = row[index]
            if value is None:
                continue
            x = (row[0] - since).total_seconds() / (hours * 3600) * width
            y = height - (max(0.0, min(100.0, value)) / 100 * height)
            coords.append(f"{x:.1f},{y:.1f}")
        return " ".join(coords)

    return {"cpu": points(1), "memory": points(2), "count": len(samples), "width": width, "height": height}


def device_detail(machine: Machine) -> dict:
    alerts = db.session.scalars(
        select(MachineAlert)
        .where(MachineAlert.machine_id == machine.id)
        .order_by(MachineAlert.resolved_at.is_not(None), MachineAlert.opened_at.desc())
        .limit(50)
    ).all()
    tickets = db.session.scalars(
        select(Ticket).where(Ticket.machine_id == machine.id).order_by(Ticket.created_at.desc()).limit(20)
    ).all()
    tokens = db.session.scalars(
        select(MachineToken)
        .where(MachineToken.machine_id == machine.id)
        .order_by(MachineToken.id.desc())
        .limit(20)
    ).all()
    latest_free = db.session.scalar(
        select(MetricSample.disk_free_percent)
        .where(MetricSample.machine_id == machine.id)
        .order_by(MetricSample.taken_at.desc())
        .limit(1)
    )
    return {"alerts": alerts, "tickets": tickets, "tokens": tokens, "latest_free": latest_free}


def last_seen(machine: Machine) -> datetime | None:
    return machine.presence.last_seen_at if machine.presence else None
