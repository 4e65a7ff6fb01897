"""A socket's follower of the change feed (app/chat/live_feed.py): batches, the position frame
for screens that hear little, and the process's memory of recent events."""

import pytest

from app.chat import live_feed
from app.chat.live_feed import REORDER_LIMIT, FeedFollower, RecentEvents


def change(seq, tenant=1, **facts):
    return {"tenant_id": tenant, "seq": seq, "kind": "ticket.status", "ticket_reference": seq, **facts}


def test_memory_answers_only_without_holes():
    memory = RecentEvents(size=5)
    assert memory.after(1, 0) is None  # nothing heard: ask the database
    for seq in (1, 2, 3):
        memory.record("feed:1", change(seq))
    memory.record("feed:1", change(2))  # heard twice (two paths): kept once
    assert [c["seq"] for c in memory.after(1, 1)] == [2, 3]
    assert memory.after(1, 3) == []  # nothing newer
    memory.record("feed:1", change(5))  # before 4: held until 4 comes
    assert memory.after(1, 3) == []
    memory.record("feed:1", change(4))
    assert [c["seq"] for c in memory.after(1, 3)] == [4, 5]
    for seq in range(6, 12):
        memory.record("feed:1", change(seq))
    assert memory.after(1, 5) is None  # 6 fell out of the window (size 5)
    assert memory.after(2, 0) is None  # another tenant's are its own


def test_memory_gives_a_missing_event_up_once_many_came_after_it():
    memory = RecentEvents(size=200)
    memory.record("feed:1", change(1))
    for seq in range(3, 3 + REORDER_LIMIT):  # 2 never arrives here
        memory.record("feed:1", change(seq))
    assert memory.after(1, 1) == []  # still waiting for 2
    memory.record("feed:1", change(3 + REORDER_LIMIT))
    assert memory.after(1, 1) is None  # 2 is lost to this process: the database says
    assert [c["seq"] for c in memory.after(1, 2)] == list(range(3, 4 + REORDER_LIMIT))


@pytest.fixture
def no_database(monkeypatch):
    def refuse(*_args):
        raise AssertionError("read the database for an event that was only late")

    monkeypatch.setattr(live_feed.feed, "events_after", refuse)
    monkeypatch.setattr(live_feed.feed, "current_seq", refuse)


def test_an_event_heard_early_waits_for_the_one_before_it(no_database):
    """Two writers publish in the other order: the screen gets both, in order, and no socket
    reads the database for it."""
    sent = []
    follower = FeedFollower(sent.append, lambda c: True, tenant_id=1, recent=RecentEvents())
    follower.on_event(change(2))
    follower.flush()
    assert sent == [] and 0 < follower.seconds_to_gap_check() <= live_feed.GAP_WAIT_SECONDS
    follower.on_event(change(1))
    follower.flush()
    assert [c["seq"] for c in sent[0]["items"]] == [1, 2]
    assert follower.seconds_to_gap_check() is None


def test_an_event_still_missing_after_the_wait_is_read_back(monkeypatch):
    read_back = []

    class Row(dict):
        seq = property(lambda self: self["seq"])

    monkeypatch.setattr(live_feed.feed, "current_seq", lambda tenant_id: 3)
    monkeypatch.setattr(
        live_feed.feed, "events_after", lambda cursor: read_back.append(cursor) or [Row(change(1))]
    )
    sent = []
    follower = FeedFollower(sent.append, lambda c: True, tenant_id=1, recent=RecentEvents())
    follower.on_event(change(2))
    follower.on_event(change(3))
    follower.check_gap()
    assert read_back == []  # not yet: it may still come
    follower.gap_since -= live_feed.GAP_WAIT_SECONDS
    follower.check_gap()
    follower.flush()
    assert read_back == [0] and [c["seq"] for c in sent[0]["items"]] == [1, 2, 3]
    assert follower.seconds_to_gap_check() is None


def test_a_wake_up_sends_one_frame_and_a_quiet_screen_learns_the_position():
    sent = []
    follower = FeedFollower(sent.append, lambda c: c["seq"] != 3, tenant_id=1, recent=RecentEvents())
    follower.cursor = follower.told = 0
    for seq in (1, 2, 3):
        follower.on_event(change(seq))
    follower.flush()
    assert sent[0]["type"] == "changes" and [c["seq"] for c in sent[0]["items"]] == [1, 2]
    assert sent[1] == {"type": "feed_position", "seq": 3}  # 3 was not for this screen
    follower.on_event(change(2))  # late duplicate: dropped
    follower.flush()
    assert len(sent) == 2
