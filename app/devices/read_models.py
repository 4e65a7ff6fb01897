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
    now = utcnow()
    since = now - timedelta(hours=hours)
    samples = db.session.execute(
        select(MetricSample.taken_at, MetricSample.cpu_percent, MetricSample.memory_percent)
        # Bounded on both sides: on PostgreSQL only the partitions of those hours are read (not
        # the week ahead's, nor the DEFAULT one).
        .where(MetricSample.machine_id == machine_id, MetricSample.taken_at.between(since, now))
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

    cpu, memory = points(1), points(2)
    latest = samples[-1] if samples else None
    return {
        "cpu": cpu,
        "memory": memory,
        "count": len(samples),
        # A line needs two points: with fewer the page says so (and shows the one sample).
        "drawable": max(len(cpu.split()), len(memory.split())) >= 2,
        "latest": {"cpu": latest[1], "memory": latest[2], "at": latest[0]} if latest else None,
        "width": width,
        "height": height,
    }


def _latest_sample(machine_id: int):
    """The newest sample's time and free space. Looked for in the last day first: on PostgreSQL
    the samples are partitioned by day, and an unbounded "newest" reads every partition's index."""
    query = (
        select(MetricSample.taken_at, MetricSample.disk_free_percent)
        .where(MetricSample.machine_id == machine_id)
        .order_by(MetricSample.taken_at.desc())
        .limit(1)
    )
    now = utcnow()
    recent = db.session.execute(
        query.where(MetricSample.taken_at.between(now - timedelta(days=1), now))
    ).first()
    return recent or db.session.execute(query).first()


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
    latest = _latest_sample(machine.id)
    return {
        "alerts": alerts,
        "tickets": tickets,
        "tokens": tokens,
        "latest_free": FreeSpaceSample(latest[0], latest[1]) if latest and latest[1] is not None else None,
    }


@dataclass(frozen=True)
class FreeSpaceSample:
    """What the newest heartbeat said of the disks: the free share of the fullest one."""

    taken_at: datetime
    percent: float


@dataclass(frozen=True)
class DiskRow:
    mount: str
    fs: str
    total_bytes: int | None
    free_bytes: float | None
    free_percent: float | None


@dataclass(frozen=True)
class DiskUsage:
    """The disks table: one free-space figure per disk, and when and where it was measured.

    Two sources say how full a disk is. The inventory carries each disk's free space as it was
    when the inventory was stored, and a new one is stored only when something else changes
    (free space is left out of its hash: app/devices/inventory.py, VOLATILE_DISK_KEYS), so it
    grows stale. A heartbeat's metric sample is fresh, but keeps only the free share of the
    fullest disk. With one disk that is its figure, and it replaces the inventory's; with more,
    each disk keeps the inventory's and the heartbeat's lowest share is said apart, with its time.
    """

    rows: list[DiskRow]
    measured_at: datetime | None
    from_heartbeat: bool
    lowest_now: FreeSpaceSample | None  # several disks: the heartbeat's figure, said apart


def disk_usage(inventory: dict, inventory_at: datetime | None, latest: FreeSpaceSample | None) -> DiskUsage:
    disks = [disk for disk in inventory.get("disks") or [] if isinstance(disk, dict)]
    rows = []
    for disk in disks:
        total, free = disk.get("totalBytes"), disk.get("freeBytes")
        percent = 100 * free / total if free is not None and total else None
        rows.append(DiskRow(str(disk.get("mount") or "—"), disk.get("fs") or "—", total, free, percent))
    fresher = latest is not None and (inventory_at is None or latest.taken_at >= inventory_at)
    if fresher and len(rows) == 1:
        only = rows[0]
        free = only.total_bytes * latest.percent / 100 if only.total_bytes else None
        rows = [DiskRow(only.mount, only.fs, only.total_bytes, free, latest.percent)]
        return DiskUsage(rows, latest.taken_at, from_heartbeat=True, lowest_now=None)
    lowest_now = latest if fresher and rows else None
    return DiskUsage(rows, inventory_at, from_heartbeat=False, lowest_now=lowest_now)


def last_seen(machine: Machine) -> datetime | None:
    return machine.presence.last_seen_at if machine.presence else None
