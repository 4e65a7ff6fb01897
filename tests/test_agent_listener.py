"""agent/listener.py: the desktop part's websocket to /ws/chat. Against the live test server
(a chat started by staff is heard at once, a staff message, a refused token stops it), and
against a small local websocket server for reconnects and backoff."""

from __future__ import annotations

import json
import threading
import time

import pytest
from websockets.sync.server import serve

from agent import client
from agent.listener import ChatEvents, ChatListener, websocket_url
from app.chat.messages import post_message
from app.devices.admin import reset_agent
from app.extensions import db
from tests.conftest import free_port


def _posted(*args, **kwargs):
    """A message as a request or a frame stores it: committed (its broadcast waits for that)."""
    message = post_message(*args, **kwargs)
    db.session.commit()
    return message


class Recorder(ChatEvents):
    def __init__(self):
        self.calls: list[tuple] = []
        self.changed = threading.Condition()

    def _add(self, *call):
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    def connected(self):
        self._add("connected")

    def chat_started(self, ticket, session, already_open):
        self._add("started", ticket, already_open)

    def chat_ended(self, ticket):
        self._add("ended", ticket)

    def staff_message(self, ticket, message):
        self._add("message", ticket, message["body"])

    def refused(self, code, message):
        self._add("refused", code)

    def wait_for(self, name, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.changed:
            while not any(call[0] == name for call in self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {name!r} in {self.calls}")
                self.changed.wait(left)
        return next(call for call in self.calls if call[0] == name)


def _start(listener):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", listener.run()), daemon=True)
    thread.start()
    return thread, result


def fast_backoff():
    return client.backoff_delays(base=0.05, cap=0.4)


def test_websocket_url():
    assert websocket_url("https://suporte.example.com/") == "wss://suporte.example.com/ws/chat"
    assert websocket_url("http://127.0.0.1:5000") == "ws://127.0.0.1:5000/ws/chat"


def test_a_chat_started_by_staff_is_heard_at_once_and_staff_messages_come_after(
    live_server, chat_device, agent_user
):
    setup = chat_device()
    events = Recorder()
    listener = ChatListener({"server": live_server, "token": setup.token}, events)
    thread, result = _start(listener)
    try:
        events.wait_for("connected")
        clicked = time.monotonic()
        setup.start(agent_user)
        assert events.wait_for("started", timeout=2) == ("started", setup.ticket.reference, False)
        heard = time.monotonic() - clicked
        assert heard < 2, heard
        _posted(setup.ticket, author=agent_user, from_device=False, body="Pode reiniciar?")
        assert events.wait_for("message") == ("message", setup.ticket.reference, "Pode reiniciar?")
        # The device's own words are not news to it.
        _posted(setup.ticket, author=None, from_device=True, body="Reiniciei.")
        _posted(setup.ticket, author=agent_user, from_device=False, body="Obrigado.")
        with events.changed:
            events.changed.wait_for(lambda: len([c for c in events.calls if c[0] == "message"]) == 2, 5)
        assert [c[2] for c in events.calls if c[0] == "message"] == ["Pode reiniciar?", "Obrigado."]
    finally:
        listener.stop()
        thread.join(5)
    assert result["code"] == 0 and not thread.is_alive()


def test_a_chat_open_before_the_socket_is_reported_and_followed(live_server, chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    events = Recorder()
    listener = ChatListener({"server": live_server, "token": setup.token}, events)
    thread, _ = _start(listener)
    try:
        assert events.wait_for("started") == ("started", setup.ticket.reference, True)
        time.sleep(0.3)  # the subscribe frame reaches the server
        _posted(setup.ticket, author=agent_user, from_device=False, body="Ainda aí?")
        assert events.wait_for("message") == ("message", setup.ticket.reference, "Ainda aí?")
    finally:
        listener.stop()
        thread.join(5)


def test_a_revoked_token_stops_the_listener_and_says_so(live_server, chat_device, caplog):
    setup = chat_device()
    reset_agent(setup.machine)
    db.session.commit()
    events = Recorder()
    listener = ChatListener({"server": live_server, "token": setup.token}, events, backoff=fast_backoff)
    thread, result = _start(listener)
    thread.join(10)
    assert result == {"code": 2}
    assert events.calls == [("refused", "token_revoked")]
    assert "recusou o token" in caplog.text and setup.token not in caplog.text


def test_an_unreachable_server_is_retried_with_growing_backoff():
    events = Recorder()
    settings = {"server": f"http://127.0.0.1:{free_port()}", "token": "x" * 43}
    listener = ChatListener(settings, events, backoff=fast_backoff, max_failures=4)
    assert listener.run() == 1
    waits = listener.waits
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2] <= 0.4 * 1.2
    assert events.calls == []


@pytest.fixture
def fake_server():
    """A websocket server on 127.0.0.1 whose behaviour each connection takes from `script`."""
    script: list = []
    seen: list[dict] = []

    def handler(connection):
        seen.append({"authorization": connection.request.headers.get("Authorization")})
        step = script.pop(0) if script else "hello"
        if step == "drop":
            connection.close()
            return
        if step == "refuse":
            connection.close(4401, "token_revoked")
            return
        connection.send(json.dumps({"type": "hello", "side": "machine", "sessions": []}))
        if step == "hello-then-drop":
            time.sleep(0.1)
            connection.close()
            return
        connection.send(json.dumps({"type": "session", "event": "started", "ticket": 7}))
        for raw in connection:  # until the client goes
            seen.append(json.loads(raw))

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        yield f"http://127.0.0.1:{port}", script, seen
        server.shutdown()


def test_dropped_connections_are_reconnected_with_backoff(fake_server):
    url, script, seen = fake_server
    script.extend(["drop", "drop"])
    events = Recorder()
    listener = ChatListener({"server": url, "token": "t" * 43}, events, backoff=fast_backoff)
    thread, result = _start(listener)
    try:
        assert events.wait_for("started") == ("started", 7, False)
    finally:
        listener.stop()
        thread.join(5)
    assert result["code"] == 0
    # Accepted and dropped at once is no answer: the waits grow (only a hello starts them over).
    assert len(listener.waits) == 2 and listener.waits[0] < listener.waits[1]
    assert seen[0] == {"authorization": "Bearer " + "t" * 43}


def test_after_a_hello_the_next_outage_starts_the_backoff_over(fake_server):
    url, script, _ = fake_server
    script.extend(["drop", "drop", "hello-then-drop", "drop"])
    events = Recorder()
    listener = ChatListener({"server": url, "token": "t" * 43}, events, backoff=fast_backoff)
    thread, _ = _start(listener)
    try:
        with events.changed:
            assert events.changed.wait_for(lambda: events.calls.count(("connected",)) == 2, 10)
    finally:
        listener.stop()
        thread.join(5)
    first, second, after_hello, last = listener.waits
    assert first < second and after_hello < second and after_hello < last


def test_a_close_with_4401_stops_the_listener(fake_server):
    url, script, _ = fake_server
    script.extend(["drop", "refuse"])
    events = Recorder()
    listener = ChatListener({"server": url, "token": "t" * 43}, events, backoff=fast_backoff)
    assert listener.run() == 2
    assert events.calls == [("refused", "token_revoked")] and len(listener.waits) == 1
