"""A socket following its tenant's change feed (app/services/feed.py): every event after the
number the screen last saw, once and in order, then the live ones; "reload" when it was away
too long. Same rule as the chat's messages: a live event with the next number goes out, an
older one is dropped, a gap is read back from the database first."""

from __future__ import annotations

from collections.abc import Callable

from app.services import feed

RESET = {"type": "feed_reset"}  # the screen reloads: more was missed than it should replay


class FeedFollower:
    def __init__(self, send: Callable[[dict], None], may_hear: Callable[[object], bool], tenant_id: int):
        self.send = send
        self.may_hear = may_hear
        self.tenant_id = tenant_id
        self.cursor = 0

    def start(self, after: int) -> None:
        """From the number the screen saw (its page was rendered with it)."""
        self.cursor = max(0, after)
        self.catch_up()

    def on_event(self, change: dict) -> None:
        seq = change["seq"]
        if seq <= self.cursor:
            return  # already sent (from the database)
        if seq == self.cursor + 1:
            self._deliver(change)
        else:
            self.catch_up()  # an earlier event is late or lost

    def catch_up(self) -> None:
        latest = feed.current_seq(self.tenant_id)
        if latest - self.cursor > feed.MAX_REPLAY:
            return self._reset(latest)
        missed = feed.events_after(self.cursor)
        if missed and missed[0].seq != self.cursor + 1:
            return self._reset(latest)  # the first ones were swept: the screen cannot catch up
        for change in missed:
            self._deliver(change)
        return None

    def _deliver(self, change) -> None:
        if self.may_hear(change):
            self.send(feed.wire(change))
        self.cursor = change["seq"] if isinstance(change, dict) else change.seq

    def _reset(self, latest: int) -> None:
        self.send(RESET)
        self.cursor = latest
