"""A socket following its tenant's change feed (app/services/feed.py): every event after the
number the screen last saw, once and in order, then the live ones; "reload" when it was away
too long. Same rule as the chat's messages: a live event with the next number goes out, an
older one is dropped. A gap (event N + 2 before N + 1) is usually two writers publishing in
the other order: the early event waits up to GAP_WAIT_SECONDS for the missing one, and only
then is the gap read back (memory, else the database). Every socket of a process reading the
database at each reordering was what saturated a server at 50 changes/s (bench/live.py).

Frames go out in batches (`flush`, once per wake-up of the socket): one change as
{"type": "change", ...}, several as {"type": "changes", "items": [...]}. A screen that may not
hear most events (a portal visitor) is told now and then how far the feed has gone
({"type": "feed_position", "seq": N}), so after a reconnect it asks from there, not from its
last own event."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from app.services import feed

RESET = {"type": "feed_reset"}  # the screen reloads: more was missed than it should replay
POSITION_EVERY_SECONDS = 1.0
RECENT_EVENTS = 1000  # per tenant, kept by each process so a reconnect rarely reads the database
GAP_WAIT_SECONDS = 0.2  # how long an early event waits for the one before it
REORDER_LIMIT = 64  # events heard past a missing one before the process takes it as lost


class RecentEvents:
    """The latest events of each tenant this process heard, in order and without holes: a
    screen that reconnects after a blip catches up from memory (hundreds of screens at once
    would otherwise each read the database)."""

    def __init__(self, size: int = RECENT_EVENTS):
        self.size = size
        self._lock = threading.Lock()
        self._by_tenant: dict[int, deque] = {}
        self._early: dict[int, dict[int, dict]] = {}  # per tenant: heard before the one before them

    def record(self, _channel: str, change: dict) -> None:
        with self._lock:
            tenant_id, seq = change["tenant_id"], change["seq"]
            events = self._by_tenant.setdefault(tenant_id, deque(maxlen=self.size))
            early = self._early.setdefault(tenant_id, {})
            if not events:
                events.append(change)
                return
            if seq <= events[-1]["seq"] or seq in early:
                return  # heard already
            if seq == events[-1]["seq"] + 1:
                events.append(change)
            else:
                early[seq] = change  # the one before it is on its way, most likely
                if len(early) <= REORDER_LIMIT:
                    return
                events.clear()  # it is not: a hole this process missed, start again after it
                events.append(early.pop(min(early)))
            while (following := early.pop(events[-1]["seq"] + 1, None)) is not None:
                events.append(following)

    def after(self, tenant_id: int, cursor: int) -> list[dict] | None:
        """Every event after `cursor` if memory holds them all from cursor + 1, else None
        (then the database says). An empty list: nothing newer was heard."""
        with self._lock:
            events = self._by_tenant.get(tenant_id)
            if not events:
                return None
            first, last = events[0]["seq"], events[-1]["seq"]
            if cursor >= last:
                return []
            if cursor + 1 < first:
                return None
            return list(events)[cursor + 1 - first :]


def recent_events(broker) -> RecentEvents:
    """The process's memory of recent events, fed by the broker (one per broker, like its sockets)."""
    memory = getattr(broker, "recent_feed", None)
    if memory is None:
        memory = broker.recent_feed = RecentEvents()
        broker.tap("feed:", memory.record)
    return memory


class FeedFollower:
    def __init__(
        self, send: Callable[[dict], None], may_hear: Callable[[object], bool], tenant_id: int, recent=None
    ):
        self.recent = recent or RecentEvents()
        self.send = send
        self.may_hear = may_hear
        self.tenant_id = tenant_id
        self.cursor = 0  # the last event number handled (sent or not for this screen)
        self.told = 0  # the last number the screen knows of
        self.outgoing: list[dict] = []
        self.position_sent_at = 0.0
        self.early: dict[int, dict] = {}  # heard before the event before them
        self.gap_since: float | None = None  # when the oldest wait for a missing event began

    def start(self, after: int) -> None:
        """From the number the screen saw (its page was rendered with it)."""
        self.cursor = self.told = max(0, after)
        self.catch_up()
        self.flush()

    def on_event(self, change: dict) -> None:
        seq = change["seq"]
        if seq <= self.cursor or seq in self.early:
            return  # already sent (from the database), or already waiting
        if seq == self.cursor + 1:
            self._deliver(change)
            if self.early:
                self._deliver_early()
            return
        # The missing one has not reached this process (its memory hears each event just before
        # the sockets do), so there is nothing to ask yet: wait; check_gap reads it back if it
        # does not come.
        self.early[seq] = change
        if self.gap_since is None:
            self.gap_since = time.monotonic()

    def seconds_to_gap_check(self) -> float | None:
        """How long until a missing event is read back; None when nothing is missing."""
        if self.gap_since is None:
            return None
        return max(0.0, self.gap_since + GAP_WAIT_SECONDS - time.monotonic())

    def check_gap(self) -> None:
        """An event still missing after GAP_WAIT_SECONDS is read back (memory, else database)."""
        if self.gap_since is not None and self.seconds_to_gap_check() == 0:
            self.catch_up()

    def catch_up(self) -> None:
        self._read_back()
        self._deliver_early()

    def _read_back(self) -> None:
        remembered = self.recent.after(self.tenant_id, self.cursor)
        if remembered:
            for change in remembered:
                self._deliver(change)
            return None
        latest = feed.current_seq(self.tenant_id)
        if latest - self.cursor > feed.MAX_REPLAY:
            return self._reset(latest)
        missed = feed.events_after(self.cursor)
        if missed and missed[0].seq != self.cursor + 1:
            return self._reset(latest)  # the first ones were swept: the screen cannot catch up
        for change in missed:
            self._deliver(change)
        return None

    def _deliver_early(self) -> None:
        """The early events that now follow on; the gap clock restarts for any still waiting."""
        while (following := self.early.pop(self.cursor + 1, None)) is not None:
            self._deliver(following)
        for seq in [seq for seq in self.early if seq <= self.cursor]:
            del self.early[seq]  # read back meanwhile
        self.gap_since = time.monotonic() if self.early else None

    def flush(self) -> None:
        """Send what this wake-up produced, in one frame."""
        if len(self.outgoing) == 1:
            self.send(self.outgoing[0])
        elif self.outgoing:
            self.send({"type": "changes", "items": self.outgoing})
        if self.outgoing:
            self.told = self.outgoing[-1]["seq"]
            self.outgoing = []
        now = time.monotonic()
        if self.told < self.cursor and now - self.position_sent_at >= POSITION_EVERY_SECONDS:
            self.send({"type": "feed_position", "seq": self.cursor})
            self.told, self.position_sent_at = self.cursor, now

    def _deliver(self, change) -> None:
        if self.may_hear(change):
            self.outgoing.append(feed.wire(change))
        self.cursor = change["seq"] if isinstance(change, dict) else change.seq

    def _reset(self, latest: int) -> None:
        self.flush()
        self.send(RESET)
        self.cursor = self.told = latest
