"""Online: a device with a heartbeat within MACHINE_ONLINE_WINDOW_SECONDS.

The one definition, in Python (a last-seen time already read) and in SQL (a query with
MachinePresence joined), side by side so the two cannot drift. A device without a
presence row, or never seen, is offline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from app.extensions import db
from app.models import Machine, MachinePresence
from app.models.types import utcnow
from app.services import feed


def online_cutoff(now: datetime | None = None) -> datetime:
    """The oldest last-seen time that is still online."""
    return (now or utcnow()) - timedelta(seconds=current_app.config["MACHINE_ONLINE_WINDOW_SECONDS"])


def is_online(last_seen_at: datetime | None, now: datetime | None = None) -> bool:
    """Python: online = a heartbeat within the window."""
    return last_seen_at is not None and last_seen_at >= online_cutoff(now)


def online_sql(now: datetime | None = None):
    """SQL, the same rule: MachinePresence.last_seen_at within the window (NULL is not)."""
    return MachinePresence.last_seen_at >= online_cutoff(now)


def offline_sql(now: datetime | None = None):
    """SQL, its complement: never seen (no row, or NULL) or seen before the window. (NOT
    online_sql would leave out the devices never seen: NOT NULL is NULL.)"""
    return or_(MachinePresence.last_seen_at.is_(None), MachinePresence.last_seen_at < online_cutoff(now))


def note_online_changes(now: datetime | None = None, batch: int = 1000) -> tuple[int, bool]:
    """Devices that came online or went offline since the last run become change-feed events
    (device.online, device.offline), so device lists and pages follow without polling. A device
    the feed has never spoken of is noted as it is, without an event. Returns (changed, more)."""
    now = now or utcnow()
    presence = MachinePresence.__table__
    is_on = MachinePresence.last_seen_at >= online_cutoff(now)
    db.session.execute(update(presence).where(presence.c.online_noted.is_(None)).values(online_noted=is_on))
    rows = db.session.execute(
        select(MachinePresence.machine_id, Machine.tenant_id, is_on)
        .join(Machine, Machine.id == MachinePresence.machine_id)
        .where(MachinePresence.online_noted.is_not(None), MachinePresence.online_noted != is_on)
        .order_by(MachinePresence.machine_id)
        .limit(batch + 1)
    ).all()
    for machine_id, tenant_id, online in rows[:batch]:
        db.session.execute(
            update(presence).where(presence.c.machine_id == machine_id).values(online_noted=online)
        )
        feed.note(
            db.session(), tenant_id, "device.online" if online else "device.offline", machine_id=machine_id
        )
    db.session.flush()
    return min(len(rows), batch), len(rows) > batch


def machine_last_seen(machine_id: int | None) -> datetime | None:
    """A device's last-seen time, read from machine_presence (None: never seen, or no device)."""
    if machine_id is None:
        return None
    return db.session.scalar(
        select(MachinePresence.last_seen_at).where(MachinePresence.machine_id == machine_id)
    )
