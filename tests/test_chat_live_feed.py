"""A socket's follower of the change feed (app/chat/live_feed.py): batches, the position frame
for screens that hear little, and the process's memory of recent events."""

from app.chat.live_feed import FeedFollower, RecentEvents


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
    memory.record("feed:1", change(5))  # 4 never arrived here: a hole
    assert memory.after(1, 2) is None and [c["seq"] for c in memory.after(1, 4)] == [5]
    for seq in range(6, 12):
        memory.record("feed:1", change(seq))
    assert memory.after(1, 5) is None  # 6 fell out of the window (size 5)
    assert memory.after(2, 0) is None  # another tenant's are its own


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
