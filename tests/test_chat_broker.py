"""app/chat/broker.py: in-process and Redis fan-out, and the frame signal that wakes a socket."""

import threading

import pytest

from app.chat.broker import FrameSignal, LocalBroker, RedisBroker, ticket_channel
from tests.conftest import TEST_REDIS_URL


def _events(subscription, count, timeout=3.0):
    return [subscription.get(timeout=timeout) for _ in range(count)]


def test_events_reach_the_subscribers_of_their_channel_in_order():
    broker = LocalBroker()
    listening, other = broker.subscribe(), broker.subscribe()
    listening.listen(ticket_channel(1))
    other.listen(ticket_channel(2))
    broker.publish_all([(ticket_channel(1), {"n": 1}), (ticket_channel(2), {"n": 2})])
    broker.publish(ticket_channel(1), {"n": 3})
    assert _events(listening, 2) == [("event", "ticket:1", {"n": 1}), ("event", "ticket:1", {"n": 3})]
    assert _events(other, 1) == [("event", "ticket:2", {"n": 2})]
    listening.close()
    broker.publish(ticket_channel(1), {"n": 4})
    assert listening.get(timeout=0.1) is None
    assert broker.subscriber_count() == 1


def test_the_frame_signal_wakes_whoever_waits_on_the_inbox():
    """simple-websocket sets its event when a frame arrives; the connection waiting on its
    inbox (for broker events too) must hear it without a reader thread of its own."""
    broker = LocalBroker()
    subscription = broker.subscribe()
    signal = FrameSignal()
    signal.set()  # before anyone listens: only the event itself is set
    assert signal.is_set() and subscription.get(timeout=0.05) is None
    signal.on_set = lambda: subscription.put(("frames",))
    threading.Timer(0.05, signal.set).start()
    assert subscription.get(timeout=2) == ("frames",)


@pytest.mark.skipif(not TEST_REDIS_URL, reason="Redis fan-out needs TEST_REDIS_URL")
def test_events_cross_processes_through_redis_in_one_round_trip():
    """Two brokers stand for two gunicorn processes: what one publishes (several events in one
    pipeline) reaches the other's subscribers, in order."""
    sender, receiver = RedisBroker(TEST_REDIS_URL), RedisBroker(TEST_REDIS_URL)
    try:
        subscription = receiver.subscribe()
        subscription.listen(ticket_channel(7))  # waits for the Redis subscription to be active
        sender.publish_all([(ticket_channel(7), {"n": 1}), (ticket_channel(8), {"n": 2})])
        sender.publish(ticket_channel(7), {"n": 3})
        assert _events(subscription, 2) == [("event", "ticket:7", {"n": 1}), ("event", "ticket:7", {"n": 3})]
    finally:
        sender.close()
        receiver.close()


@pytest.mark.skipif(not TEST_REDIS_URL, reason="Redis fan-out needs TEST_REDIS_URL")
def test_installs_on_other_redis_databases_do_not_hear_each_other():
    """Pub/sub ignores the database number: the channel names carry it."""
    base = TEST_REDIS_URL.rsplit("/", 1)[0]
    ours, theirs = RedisBroker(f"{base}/11"), RedisBroker(f"{base}/12")
    try:
        subscription = ours.subscribe()
        subscription.listen(ticket_channel(7))
        theirs.publish(ticket_channel(7), {"n": "deles"})
        ours.publish(ticket_channel(7), {"n": "nosso"})
        assert _events(subscription, 1) == [("event", "ticket:7", {"n": "nosso"})]
    finally:
        ours.close()
        theirs.close()
