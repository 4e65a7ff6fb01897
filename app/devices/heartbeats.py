"""Heartbeats: the hot path of the product (every device, every minute).

An identical heartbeat updates one narrow row (presence) in place, appends a small
metric sample only every METRIC_SAMPLE_SECONDS, and writes no inventory bytes at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from flask import current_app
from sqlalchemy import insert, update

from app.devices import presence
from app.devices.alerts import has_open_alerts, sync_alerts
from app.devices.inventory import SentInventory, inventory_hash, store_inventory
from app.devices.tokens import AgentContext
from app.devices.usb import commands_for
from app.extensions import db
from app.models import Machine, MetricSample
from app.models.types import utcnow
from app.services import api_input


def metric_sample_due(last_sample_at: datetime | None, now: datetime) -> bool:
    """Charts need a point every few minutes, not one per heartbeat (that would be
    ~1 500 rows per device per day kept for 90 days)."""
    interval = current_app.config["METRIC_SAMPLE_SECONDS"]
    return last_sample_at is None or now - last_sample_at >= timedelta(seconds=interval)


@dataclass
class HeartbeatResult:
    inventory_stored: bool = False
    commands: list[dict] = field(default_factory=list)


def record_heartbeat(
    context: AgentContext,
    metrics: dict | None,
    inventory: SentInventory | None,
    alerts: list[dict] | None,
) -> HeartbeatResult:
    """The hot path. An identical heartbeat writes nothing itself: it notes the
    last-seen time (written behind in batches, see devices/presence.py), plus a
    small INSERT when a metric sample is due."""
    now = utcnow()
    result = HeartbeatResult()
    sample = bool(metrics) and metric_sample_due(context.last_sample_at, now)
    if sample:
        presence.touch(context.machine_id, now, sampled=True)
        db.session.connection().execute(
            insert(MetricSample.__table__).values(
                machine_id=context.machine_id,
                taken_at=now,
                cpu_percent=metrics.get("cpuPercent"),
                memory_percent=metrics.get("memoryPercent"),
                disk_free_percent=_min_disk_free(metrics.get("disks")),
                uptime_seconds=metrics.get("uptimeSeconds"),
                logged_user=(metrics.get("loggedUser") or None) and str(metrics["loggedUser"])[:120],
            )
        )
    else:
        presence.note_seen(context.machine_id, now)
    if inventory is not None:
        result.inventory_stored = _note_inventory(context, inventory, now)
    if alerts is not None and (alerts or has_open_alerts(context.machine_id)):
        sync_alerts(context.machine, alerts, now)
    result.commands = commands_for(context)
    return result


def _note_inventory(context: AgentContext, inventory: SentInventory, now: datetime) -> bool:
    """Store the inventory if its content changed; whether a snapshot was written."""
    fingerprint = inventory.fingerprint()
    if fingerprint == context.inventory_fingerprint:
        return False  # the same text as the last snapshot's: nothing to parse
    document = inventory.document()
    try:
        content_hash = inventory_hash(document)
    except orjson.JSONEncodeError:  # nested past orjson's 255 levels (past ours too)
        raise api_input.too_deep() from None
    if content_hash != context.inventory_hash:
        # What is stored obeys the body rules (NUL, depth: app/services/api_input.py), checked
        # only here: a walk of a 90 KB inventory costs ~0.5 ms, more than parsing it, and the same
        # content sent again, as the same text or not, equals a snapshot that was checked.
        api_input.check_tree(document, "inventory", depth=2)
        return store_inventory(context.machine, document, now, content_hash, fingerprint=fingerprint)
    if context.inventory_fingerprint is None:
        # A snapshot stored before fingerprints existed: its fingerprint, once per device.
        # (A fingerprint that differs stays as it is: an agent that writes the same content
        # differently on every beat must not cause a write on every beat.)
        db.session.execute(
            update(Machine)
            .where(Machine.id == context.machine_id, Machine.inventory_hash == content_hash)
            .values(inventory_fingerprint=fingerprint, updated_at=Machine.updated_at)
            .execution_options(synchronize_session=False)
        )
    return False


def _min_disk_free(disks) -> float | None:
    values = [
        d.get("freePercent") for d in disks or [] if isinstance(d, dict) and d.get("freePercent") is not None
    ]
    return min(values) if values else None
