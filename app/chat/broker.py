"""Fan-out of chat events to the websockets connected to this process.

Two brokers with one interface:

- `LocalBroker` (no REDIS_URL): events published in this process reach the
  subscriptions of this process. Enough for `make run` (one process).
- `RedisBroker` (REDIS_URL set): events are published to Redis; one listener
  thread per process pattern-subscribes to every chat channel and hands each
  event to the local subscriptions of that channel. So a staff member on one
  gunicorn process and a device on another talk normally, and a process holds
  one Redis subscription however many sockets it serves.

Events carry what a receiver needs to forward them without a database query.
Nothing is lost if an event is: the database is the record, and a subscription
that sees a gap (or a Redis reconnect, signalled as a "resync") reads the
missing messages back from it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import orjson
from flask import current_app
from redis import Redis

from app.services import transaction

log = logging.getLogger("chamados.chat")


def redis_prefix(client: Redis) -> str:
    """Channels of this install: pub/sub ignores Redis's database number, so it is part of the
    name (two installs, or two test workers, on one Redis server never hear each other)."""
    return f"chamados:{client.connection_pool.connection_kwargs.get('db', 0)}:chat:"


def ticket_channel(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def tenant_channel(tenant_id: int) -> str:
    return f"tenant:{tenant_id}"


def machine_channel(machine_id: int) -> str:
    return f"machine:{machine_id}"


def person_channel(user_id: int) -> str:
    """A requester's portal tabs: the chats of the tickets they requested start and end here."""
    return f"person:{user_id}"


class Subscription:
    """One connection's inbox: broker events and (put by the socket reader) client frames."""

    def __init__(self, broker: LocalBroker):
        self.broker = broker
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.channels: set[str] = set()

    def listen(self, channel: str) -> None:
        if channel not in self.channels:
            self.channels.add(channel)
            self.broker._add(channel, self)

    def stop_listening(self, channel: str) -> None:
        if channel in self.channels:
            self.channels.discard(channel)
            self.broker._remove(channel, self)

    def put(self, item) -> None:
        self.inbox.put(item)

    def get(self, timeout: float | None):
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def get_nowait(self):
        """The next item if one is already queued, else None."""
        try:
            return self.inbox.get_nowait()
        except queue.Empty:
            return None

    def close(self) -> None:
        for channel in list(self.channels):
            self.stop_listening(channel)


class FrameSignal(threading.Event):
    """simple-websocket's "something arrived" event (a frame, or the socket closing) that also
    calls `on_set`, so the connection hears its frames in the same inbox as broker events."""

    def __init__(self):
        super().__init__()
        self.on_set = None

    def set(self) -> None:
        super().set()
        if self.on_set is not None:
            self.on_set()


class LocalBroker:
    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscription]] = {}
        self._taps: dict[str, object] = {}  # channel prefix -> fn(channel, event), sees every event

    def tap(self, prefix: str, fn) -> None:
        """Hear every event of channels starting with `prefix`, subscribed or not (one per prefix:
        the change feed's memory of recent events, app/chat/live_feed.py)."""
        self._taps[prefix] = fn

    def subscribe(self) -> Subscription:
        return Subscription(self)

    def publish(self, channel: str, event: dict) -> None:
        self.publish_all([(channel, event)])

    def publish_all(self, events: list[tuple[str, dict]]) -> None:
        """Several (channel, event) pairs, in order."""
        for channel, event in events:
            self._deliver(channel, event)

    def _deliver(self, channel: str, event: dict) -> None:
        for prefix, fn in tuple(self._taps.items()):
            if channel.startswith(prefix):
                fn(channel, event)
        with self._lock:
            targets = list(self._subscribers.get(channel, ()))
        for subscription in targets:
            subscription.put(("event", channel, event))

    def _broadcast_resync(self) -> None:
        with self._lock:
            targets = {s for subs in self._subscribers.values() for s in subs}
        for subscription in targets:
            subscription.put(("resync",))

    def _add(self, channel: str, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.setdefault(channel, set()).add(subscription)

    def _remove(self, channel: str, subscription: Subscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[channel]

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())

    def close(self) -> None:
        pass


class RedisBroker(LocalBroker):
    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self._publisher = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = redis_prefix(self._publisher)
        self._listener: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._start_lock = threading.Lock()

    def publish_all(self, events: list[tuple[str, dict]]) -> None:
        try:
            if len(events) == 1:
                channel, event = events[0]
                self._publisher.publish(self.prefix + channel, orjson.dumps(event))
                return
            pipe = self._publisher.pipeline(transaction=False)  # one round trip for all
            for channel, event in events:
                pipe.publish(self.prefix + channel, orjson.dumps(event))
            pipe.execute()
        except Exception:
            log.warning("chat: could not publish to Redis; receivers will catch up from the database")

    def _add(self, channel: str, subscription: Subscription) -> None:
        super()._add(channel, subscription)
        self._ensure_listener()

    def _ensure_listener(self) -> None:
        if self._listener is not None and self._listener.is_alive():
            return
        with self._start_lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._ready.clear()
            self._listener = threading.Thread(target=self._listen, name="chat-redis-listener", daemon=True)
            self._listener.start()
        # Subscribing takes one round trip; wait for it so an event published
        # right after a client subscribes is not missed.
        self._ready.wait(timeout=2)

    def _listen(self) -> None:
        backoff = 0.2
        first = True
        while not self._stopping.is_set():
            client = Redis.from_url(self.url, socket_connect_timeout=2, health_check_interval=15)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(self.prefix + "*")
                pubsub.get_message(timeout=1)  # the psubscribe confirmation
                self._ready.set()
                if not first:
                    self._broadcast_resync()  # events may have been missed while disconnected
                first = False
                backoff = 0.2
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "pmessage":
                        channel = message["channel"].decode()[len(self.prefix) :]
                        self._deliver(channel, orjson.loads(message["data"]))
            except Exception:
                log.warning("chat: Redis subscription lost; reconnecting in %.1fs", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5)
            finally:
                try:
                    pubsub.close()
                    client.close()
                except Exception:
                    pass

    def close(self) -> None:
        self._stopping.set()


def get_broker(app) -> LocalBroker:
    """The process's broker, created on first use (after gunicorn forks)."""
    broker = app.extensions.get("chamados_chat_broker")
    if broker is None:
        with _create_lock:
            broker = app.extensions.get("chamados_chat_broker")
            if broker is None:
                url = app.config.get("REDIS_URL")
                broker = RedisBroker(url) if url else LocalBroker()
                app.extensions["chamados_chat_broker"] = broker
    return broker


_create_lock = threading.Lock()


def publish_after_commit(events: list[tuple[str, dict]]) -> None:
    """Publish (channel, event) pairs once the unit of work that stored what they announce is
    committed (at once when nothing is pending); never if it is rolled back."""
    broker = get_broker(current_app)
    transaction.after_commit(lambda: broker.publish_all(events))
