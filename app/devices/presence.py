"""When each device was last seen: noted on every heartbeat, written behind in batches.

A heartbeat is the busiest request of the product (every device, every minute), and
all it has to say for itself is "device N was seen at T". Writing that straight to
the database costs a transaction (BEGIN, UPDATE, COMMIT and a WAL flush) per beat.
So a heartbeat only *notes* the time in this process's buffer, and the process's
flusher writes every noted time to `machine_presence` in one batched UPDATE every
PRESENCE_FLUSH_SECONDS (and once more when the process exits).

The buffer is a write-behind queue, not state anyone reads: every reader, in any
process, reads `machine_presence`, where a last-seen time is at most one flush
interval old, far inside the online window (MACHINE_ONLINE_WINDOW_SECONDS). So it
needs no Redis even when REDIS_URL is set (a Redis note was one more round trip,
~0.2 ms of CPU, per heartbeat). A process killed before its flush loses a few
seconds of notes, which costs nothing: each device's next heartbeat notes it again.

PRESENCE_FLUSH_SECONDS=0 writes through, in the heartbeat's own transaction (the
tests' default).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection

from app.extensions import db
from app.models import Machine, MachinePresence

log = logging.getLogger("chamados.presence")

BATCH = 1000

_presence = MachinePresence.__table__
# Never move a last-seen time backwards (a slow flush must not undo a newer write).
_ADVANCE_LAST_SEEN = (
    update(_presence)
    .where(
        _presence.c.machine_id == bindparam("machine"),
        or_(_presence.c.last_seen_at.is_(None), _presence.c.last_seen_at < bindparam("seen")),
    )
    .values(last_seen_at=bindparam("seen"))
)


def note_seen(machine_id: int, seen_at: datetime) -> None:
    """The heartbeat's one presence call: noted for the next flush (or written at once)."""
    app = current_app._get_current_object()
    if app.config["PRESENCE_FLUSH_SECONDS"] == 0:
        touch(machine_id, seen_at)
    else:
        flusher_for(app).note(machine_id, seen_at)


def touch(machine_id: int, now: datetime, sampled: bool = False) -> None:
    """Write the last-seen time now, in the caller's transaction (registration, a
    FusionInventory post, a heartbeat that takes a metric sample). Inserts the row if
    the device has none yet."""
    values = {"last_seen_at": now, **({"last_sample_at": now} if sampled else {})}
    updated = (
        db.session.connection()
        .execute(update(_presence).where(_presence.c.machine_id == machine_id).values(**values))
        .rowcount
    )
    if not updated:
        db.session.add(MachinePresence(machine_id=machine_id, **values))


def write_presence(connection: Connection, seen: dict[int, datetime]) -> int:
    """Write a flush's noted times in batches: update the rows that exist, insert the missing ones
    (for devices that still exist). Returns how many devices were written."""
    written = 0
    ids = sorted(seen)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        existing = set(
            connection.scalars(select(_presence.c.machine_id).where(_presence.c.machine_id.in_(chunk)))
        )
        if existing:
            connection.execute(
                _ADVANCE_LAST_SEEN, [{"machine": m, "seen": seen[m]} for m in chunk if m in existing]
            )
        missing = [m for m in chunk if m not in existing]
        if missing:
            alive = connection.scalars(select(Machine.id).where(Machine.id.in_(missing))).all()
            if alive:
                connection.execute(
                    insert(_presence), [{"machine_id": m, "last_seen_at": seen[m]} for m in alive]
                )
            written += len(alive)
        written += len(existing)
    return written


class PresenceFlusher:
    """One per process and app: a daemon thread that writes the notes every interval
    (and once more when the process exits)."""

    def __init__(self, app: Flask):
        self.app = app
        self.pid = os.getpid()
        self.interval = app.config["PRESENCE_FLUSH_SECONDS"]
        self._local: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="presence-flusher", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def note(self, machine_id: int, seen_at: datetime) -> None:
        with self._lock:
            self._local[machine_id] = seen_at

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.flush()

    def stop(self) -> None:
        """Stop the thread and write what is left (at exit, or when a test is done)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        atexit.unregister(self.stop)
        self.flush()

    def flush(self) -> int:
        """Write every pending note; on failure keep them for the next try."""
        with self._lock:
            seen, self._local = self._local, {}
        if not seen:
            return 0
        try:
            with self.app.app_context(), db.engine.begin() as connection:
                return write_presence(connection, seen)
        except Exception:
            log.exception("presence: flush of %d devices failed; kept for the next try", len(seen))
            with self._lock:
                for machine_id, seen_at in seen.items():
                    self._local.setdefault(machine_id, seen_at)  # a newer note taken meanwhile wins
            return 0


_flushers_lock = threading.Lock()


def flusher_for(app: Flask) -> PresenceFlusher:
    """This process's flusher for `app`, started on first use (and again after a fork:
    threads do not survive one)."""
    flusher = app.extensions.get("chamados_presence")
    if flusher is None or flusher.pid != os.getpid():
        with _flushers_lock:
            flusher = app.extensions.get("chamados_presence")
            if flusher is None or flusher.pid != os.getpid():
                flusher = app.extensions["chamados_presence"] = PresenceFlusher(app)
    return flusher


def flush_pending(app: Flask | None = None) -> int:
    """Write what this process has noted so far."""
    app = app or current_app._get_current_object()
    flusher = app.extensions.get("chamados_presence")
    return flusher.flush() if flusher is not None and flusher.pid == os.getpid() else 0
