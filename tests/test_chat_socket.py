"""/ws/chat over a real server: authentication, live delivery, resume without loss or
duplicates, and (with Redis) two gunicorn processes talking through pub/sub."""

import time

import orjson
import pytest
from simple_websocket import ConnectionClosed, ConnectionError

from app.chat.broker import get_broker
from app.chat.messages import post_message
from app.devices.admin import reset_agent
from app.extensions import db
from app.models import ChatMessage
from tests.conftest import TEST_REDIS_URL, WebSocketClient, logged_in_client
from tests.test_wsgi import _wait_until_up, spawn_gunicorn


def _url(server):
    return server.replace("http://", "ws://") + "/ws/chat"


def _device_socket(server, setup):
    return WebSocketClient.connect(_url(server), headers={"Authorization": f"Bearer {setup.token}"})


def _staff_socket(server, app, user, origin=None):
    cookie = logged_in_client(app, user).get_cookie("session").value
    return WebSocketClient.connect(
        _url(server), headers={"Cookie": f"session={cookie}", "Origin": origin or server}
    )


def post(ticket, author, body):
    """A staff message stored and committed (a request's boundary would), so it is broadcast."""
    message = post_message(ticket, author=author, from_device=False, body=body)
    db.session.commit()
    return message


def _send(ws, **frame):
    ws.send(orjson.dumps(frame).decode())


def _next(ws, kind, timeout=5.0, where=lambda frame: True):
    """The next frame of `kind` (matching `where`), skipping others; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if raw is None:
            break
        frame = orjson.loads(raw)
        if frame["type"] == kind and where(frame):
            return frame
    raise AssertionError(f"no {kind!r} frame within {timeout}s")


def _messages(ws, quiet=0.5):
    """Every message frame until the socket is quiet for `quiet` seconds."""
    received = []
    while (raw := ws.receive(timeout=quiet)) is not None:
        frame = orjson.loads(raw)
        if frame["type"] == "message":
            received.append(frame["message"]["id"])
    return received


def test_device_and_staff_talk_over_the_socket(app, live_server, chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    device = _device_socket(live_server, setup)
    staff = _staff_socket(live_server, app, agent_user)
    try:
        hello = _next(device, "hello")
        assert hello["side"] == "machine" and hello["sessions"][0]["ticket"] == setup.ticket.reference
        assert _next(staff, "hello")["side"] == "agent"
        _send(device, type="subscribe", ticket=setup.ticket.reference, lastId=0)
        _send(staff, type="subscribe", ticket=setup.ticket.reference, lastId=0)
        _send(staff, type="watch")
        time.sleep(0.2)
        _send(staff, type="send", ticket=setup.ticket.reference, body="Pode reiniciar?", clientId="s1")
        assert _next(staff, "sent") == {
            "type": "sent",
            "clientId": "s1",
            "ticket": setup.ticket.reference,
            "id": 1,
        }
        received = _next(device, "message")["message"]
        assert received["body"] == "Pode reiniciar?" and received["isFromMachine"] is False
        _send(device, type="send", ticket=setup.ticket.reference, body="Reiniciei, voltou!", clientId="d1")
        answer = _next(staff, "message", where=lambda f: f["message"]["id"] == 2)["message"]
        assert answer["id"] == 2 and answer["isFromMachine"] is True and answer["authorName"] == "joana"
        assert _next(staff, "sessions") == {"type": "sessions"}  # the widget refreshes its unread badge
    finally:
        device.close()
        staff.close()
    stored = db.session.query(ChatMessage).order_by(ChatMessage.seq).all()
    assert [(m.seq, m.from_machine) for m in stored] == [(1, False), (2, True)]


def test_missed_messages_arrive_on_reconnect_in_order_once(app, live_server, chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    device = _device_socket(live_server, setup)
    _send(device, type="subscribe", ticket=setup.ticket.reference, lastId=0)
    time.sleep(0.2)
    post(setup.ticket, agent_user, "1")
    assert _next(device, "message")["message"]["id"] == 1
    device.close()

    for body in ("2", "3", "4"):  # the device is offline: stored, not lost
        post(setup.ticket, agent_user, body)

    device = _device_socket(live_server, setup)
    try:
        _send(device, type="subscribe", ticket=setup.ticket.reference, lastId=1)
        assert _messages(device) == [2, 3, 4]
        post(setup.ticket, agent_user, "5")
        assert _messages(device) == [5]
    finally:
        device.close()


def test_a_lost_event_is_filled_from_the_database(app, live_server, chat_device, agent_user, monkeypatch):
    setup = chat_device()
    setup.start(agent_user)
    device = _device_socket(live_server, setup)
    try:
        _send(device, type="subscribe", ticket=setup.ticket.reference, lastId=0)
        time.sleep(0.2)
        broker = get_broker(app)
        with monkeypatch.context() as patch:
            patch.setattr(broker, "publish_all", lambda *args: None)  # this message's event never arrives
            post(setup.ticket, agent_user, "perdido")
        post(setup.ticket, agent_user, "seguinte")
        assert _messages(device) == [1, 2]
    finally:
        device.close()


def test_a_device_cannot_follow_another_devices_ticket(live_server, chat_device, agent_user):
    setup = chat_device()
    other = chat_device("outro-pc", ("SN-999",), ("AA-BB-CC-DD-EE-99",), "outro@paoquente.test")
    setup.start(agent_user)
    intruder = _device_socket(live_server, other)
    try:
        _send(intruder, type="subscribe", ticket=setup.ticket.reference, lastId=0)
        assert _next(intruder, "error")["code"] == "ticket_not_linked"
        _send(intruder, type="send", ticket=setup.ticket.reference, body="oi")
        assert _next(intruder, "error")["code"] == "ticket_not_linked"
    finally:
        intruder.close()


def test_a_device_follows_a_chat_started_while_it_is_connected(live_server, chat_device, agent_user):
    setup = chat_device()
    device = _device_socket(live_server, setup)
    try:
        assert _next(device, "hello")["sessions"] == []
        setup.start(agent_user)
        assert _next(device, "session") == {
            "type": "session",
            "event": "started",
            "ticket": setup.ticket.reference,
        }
        post(setup.ticket, agent_user, "Olá!")
        assert _next(device, "message")["message"]["body"] == "Olá!"
    finally:
        device.close()


def test_foreign_origins_and_strangers_are_refused(app, live_server, chat_device, agent_user):
    with pytest.raises(ConnectionError):
        _staff_socket(live_server, app, agent_user, origin="https://evil.example")
    stranger = WebSocketClient.connect(_url(live_server))
    _send(stranger, type="ping")
    assert _next(stranger, "error")["code"] == "not_authenticated"
    with pytest.raises(ConnectionClosed):
        for _ in range(5):
            stranger.receive(timeout=1)
            stranger.send("{}")


def test_the_token_may_come_as_the_first_frame(live_server, chat_device):
    setup = chat_device()
    device = WebSocketClient.connect(_url(live_server))
    try:
        _send(device, type="auth", token=setup.token)
        assert _next(device, "hello")["side"] == "machine"
    finally:
        device.close()


def test_resetting_the_agent_closes_its_socket(live_server, chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    device = _device_socket(live_server, setup)
    _next(device, "hello")
    reset_agent(setup.machine)
    db.session.commit()
    _send(device, type="subscribe", ticket=setup.ticket.reference, lastId=0)
    assert _next(device, "error")["code"] == "token_revoked"
    with pytest.raises(ConnectionClosed):
        for _ in range(5):
            device.receive(timeout=1)
            device.send("{}")


def test_a_password_change_closes_the_staff_members_open_socket(app, live_server, agent_user):
    """Every session opened with the old password ends, the chat's socket too."""
    from app.services.users import set_password

    ours = _staff_socket(live_server, app, agent_user)
    try:
        _next(ours, "hello")
        set_password(agent_user, "uma-senha-nova-456")
        db.session.commit()  # as the request that changed it would
        _send(ours, type="watch")
        assert _next(ours, "error")["code"] == "session_expired"
    finally:
        ours.close()


# --- scale-out -----------------------------------------------------------------------


@pytest.fixture
def two_servers(app, test_env, workdir):
    """Two gunicorn processes (gthread, as in production) sharing the database and Redis."""
    processes, urls = [], []
    for _ in range(2):
        process, port = spawn_gunicorn(test_env, workdir, GUNICORN_THREADS="16")
        processes.append(process)
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, process in zip(urls, processes, strict=True):
            _wait_until_up(url + "/health/live", process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.skipif(not TEST_REDIS_URL, reason="fan-out across processes needs Redis (TEST_REDIS_URL)")
def test_staff_and_device_on_two_processes_talk_through_redis(app, two_servers, chat_device, agent_user):
    server_a, server_b = two_servers
    setup = chat_device()
    setup.start(agent_user)
    device = _device_socket(server_a, setup)
    staff = _staff_socket(server_b, app, agent_user)
    try:
        _next(device, "hello")
        _next(staff, "hello")
        _send(device, type="subscribe", ticket=setup.ticket.reference, lastId=0)
        _send(staff, type="subscribe", ticket=setup.ticket.reference, lastId=0)
        time.sleep(0.3)
        _send(staff, type="send", ticket=setup.ticket.reference, body="Do processo B", clientId="b")
        assert _next(device, "message")["message"]["body"] == "Do processo B"
        _send(device, type="send", ticket=setup.ticket.reference, body="Do processo A", clientId="a")
        answer = _next(staff, "message", where=lambda f: f["message"]["id"] == 2)["message"]
        assert answer["body"] == "Do processo A" and answer["isFromMachine"] is True
    finally:
        device.close()
        staff.close()


@pytest.fixture
def sockets_pool(app, test_env, workdir):
    """The pool that holds the sockets at fleet size: one gunicorn process on gevent."""
    process, port = spawn_gunicorn(test_env, workdir, GUNICORN_WORKER_CLASS="gevent")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url + "/health/live", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.skipif(not TEST_REDIS_URL, reason="the sockets pool hears the web pool through Redis")
def test_the_gevent_sockets_pool_tells_a_device_its_chat_started(app, sockets_pool, chat_device, agent_user):
    setup = chat_device()
    device = _device_socket(sockets_pool, setup)
    staff = _staff_socket(sockets_pool, app, agent_user)
    try:
        assert _next(device, "hello")["sessions"] == []
        _next(staff, "hello")
        started_at = time.monotonic()
        setup.start(agent_user)  # "Iniciar chat", in another process (here: the test's)
        notice = _next(device, "session", timeout=2)
        assert notice == {"type": "session", "event": "started", "ticket": setup.ticket.reference}
        assert time.monotonic() - started_at < 2
        _send(staff, type="subscribe", ticket=setup.ticket.reference, lastId=0)
        _send(staff, type="ping")
        _next(staff, "pong")
        _send(device, type="send", ticket=setup.ticket.reference, body="Oi, suporte", clientId="d")
        assert _next(staff, "message")["message"]["body"] == "Oi, suporte"
    finally:
        device.close()
        staff.close()


def test_watching_refreshes_the_widget_once_for_what_changed_before(
    app, live_server, chat_device, agent_user
):
    """The page's widget may have been rendered before a change whose notice went out
    before this socket was listening (e.g. the chat being read by the page itself)."""
    setup = chat_device()
    setup.start(agent_user)
    staff = _staff_socket(live_server, app, agent_user)
    try:
        _next(staff, "hello")
        _send(staff, type="watch")
        assert _next(staff, "sessions", timeout=2) == {"type": "sessions"}
    finally:
        staff.close()


def test_only_our_exact_origin_opens_a_staff_socket(app, live_server, agent_user):
    port = live_server.rsplit(":", 1)[1]
    for foreign in (
        f"{live_server}.evil.example",  # our host and port as a prefix of another host
        live_server.replace("http://", "https://"),  # another scheme
        f"http://127.0.0.1:{int(port) + 1}",  # another port
    ):
        with pytest.raises(ConnectionError):
            _staff_socket(live_server, app, agent_user, origin=foreign)
    ours = _staff_socket(live_server, app, agent_user)
    try:
        assert _next(ours, "hello")["side"] == "agent"
    finally:
        ours.close()


def test_a_staff_cookie_without_origin_is_not_a_staff_socket(app, live_server, agent_user):
    """No Origin means no browser page: such a client must bring a device token."""
    cookie = logged_in_client(app, agent_user).get_cookie("session").value
    socket = WebSocketClient.connect(_url(live_server), headers={"Cookie": f"session={cookie}"})
    try:
        _send(socket, type="ping")
        try:
            assert _next(socket, "error")["code"] == "not_authenticated"
        except ConnectionClosed as closed:  # the close can overtake the error frame under load
            assert (closed.reason, closed.message) == (4401, "not_authenticated")
    finally:
        socket.close()


def _portal_socket(server, client):
    """A portal tab's socket: the browser's session cookie and our own page as Origin."""
    cookie = client.get_cookie("session").value
    return WebSocketClient.connect(_url(server), headers={"Cookie": f"session={cookie}", "Origin": server})


def test_the_portal_side_hears_a_chat_start_and_talks(app, live_server, chat_device, agent_user):
    from app.chat.sessions import start_session
    from tests.test_views_portal_chat import device_session_client

    setup = chat_device()
    person = _portal_socket(live_server, device_session_client(app, setup))
    try:
        assert _next(person, "hello")["side"] == "person"
        _send(person, type="watch")
        _next(person, "sessions")  # the refresh every watch starts with
        start_session(agent_user, setup.ticket)
        db.session.commit()
        started = _next(person, "session")
        assert started == {"type": "session", "event": "started", "ticket": setup.ticket.reference}
        _send(person, type="subscribe", ticket=setup.ticket.reference, lastId=0)
        post_message(setup.ticket, author=agent_user, from_device=False, body="Pode reiniciar?")
        db.session.commit()
        received = _next(person, "message")["message"]
        assert received["body"] == "Pode reiniciar?" and not received["isFromMachine"]
        _send(person, type="send", ticket=setup.ticket.reference, body="Reiniciei.", clientId="p1")
        assert _next(person, "sent")["id"] == 2
        db.session.expire_all()
        stored = db.session.query(ChatMessage).filter_by(seq=2).one()
        assert stored.from_machine and stored.author_id == setup.ticket.requester_id
        # Heard once: the device's side is told on the channel it watches, not again on the ticket's.
        assert "session" not in [orjson.loads(raw)["type"] for raw in _drain(person)]
    finally:
        person.close()


def test_a_portal_socket_never_reaches_another_persons_chat(
    app, live_server, chat_device, agent_user, collaborator
):
    setup = chat_device()
    setup.start(agent_user)
    colleague = _portal_socket(live_server, logged_in_client(app, collaborator))
    try:
        assert _next(colleague, "hello")["side"] == "person"
        _send(colleague, type="watch")
        for kind in ("subscribe", "send", "read"):
            _send(colleague, type=kind, ticket=setup.ticket.reference, lastId=0, body="oi")
            assert _next(colleague, "error")["code"] == "ticket_not_found"
        post_message(setup.ticket, author=agent_user, from_device=False, body="só para a Joana")
        assert "message" not in [orjson.loads(raw)["type"] for raw in _drain(colleague)]
    finally:
        colleague.close()


def _drain(ws, quiet=0.5):
    frames = []
    while (raw := ws.receive(timeout=quiet)) is not None:
        frames.append(raw)
    return frames


# --- the change feed -----------------------------------------------------------------


def _changes(ws, quiet=0.5):
    """(seq, kind, ticket) of every change frame until the socket is quiet."""
    frames = []
    while (raw := ws.receive(timeout=quiet)) is not None:
        frame = orjson.loads(raw)
        for each in frame["items"] if frame["type"] == "changes" else [frame]:
            if each.get("type", "change") in ("change", "feed_reset"):
                frames.append((each.get("seq"), each.get("kind"), each.get("ticket")))
    return frames


def test_a_screen_that_reconnects_gets_exactly_what_it_missed(app, live_server, agent_user, make_ticket):
    from app.services.tickets import add_comment, assign, change_status

    ticket = make_ticket("Impressora")
    staff = _staff_socket(live_server, app, agent_user)
    try:
        _next(staff, "hello")
        _send(staff, type="feed", after=1)  # the page was rendered after the ticket was created
        assign(ticket, agent_user.id, agent_user)
        db.session.commit()
        assert _changes(staff) == [(2, "ticket.assignee", ticket.reference)]
    finally:
        staff.close()
    # Away: two changes happen. Back with the last number it saw, it gets both, once, in order.
    change_status(ticket, "iniciar", agent_user)
    db.session.commit()
    add_comment(ticket, agent_user, "<p>Vou verificar.</p>", "PUBLIC")
    db.session.commit()
    again = _staff_socket(live_server, app, agent_user)
    try:
        _next(again, "hello")
        _send(again, type="feed", after=2)
        add_comment(ticket, agent_user, "<p>Nota.</p>", "INTERNAL")  # live, right behind the backlog
        db.session.commit()
        assert _changes(again) == [
            (3, "ticket.status", ticket.reference),
            (4, "comment.public", ticket.reference),
            (5, "comment.internal", ticket.reference),
        ]
    finally:
        again.close()


def test_a_screen_away_too_long_is_told_to_reload(app, live_server, agent_user, make_ticket):
    from app.models import ChangeEvent

    make_ticket("Um")
    make_ticket("Dois")
    db.session.query(ChangeEvent).filter(ChangeEvent.seq == 1).delete()  # swept by the daily job
    db.session.commit()
    staff = _staff_socket(live_server, app, agent_user)
    try:
        _next(staff, "hello")
        _send(staff, type="feed", after=0)
        assert _changes(staff) == [(None, None, None)]  # feed_reset: the page reloads
    finally:
        staff.close()


def test_a_collaborator_hears_only_public_changes_of_their_own_tickets(
    app, live_server, agent_user, collaborator, make_ticket, tenant, company
):
    from app.models import Company, Role
    from app.services.tickets import add_comment, assign, create_ticket
    from tests.conftest import make_user

    mine = make_ticket("O meu", requester=collaborator)
    colleague = make_user(tenant, role=Role.COLLABORATOR, email="colega@paoquente.test", company=company)
    other_company = Company(tenant_id=tenant.id, name="Outra", apelido="outra")
    db.session.add(other_company)
    db.session.commit()
    stranger = make_user(tenant, role=Role.COLLABORATOR, email="x@outra.test", company=other_company)
    theirs = make_ticket("Do colega", requester=colleague)
    portal = _portal_socket(live_server, logged_in_client(app, collaborator))
    try:
        _next(portal, "hello")
        _send(portal, type="feed", after=2)
        assign(mine, agent_user.id, agent_user)
        db.session.commit()
        add_comment(mine, agent_user, "<p>Olá!</p>", "PUBLIC")
        db.session.commit()
        add_comment(mine, agent_user, "<p>Só a equipe vê.</p>", "INTERNAL")
        db.session.commit()
        assign(theirs, agent_user.id, agent_user)
        db.session.commit()
        create_ticket(tenant_id=tenant.id, requester=stranger, subject="De outra empresa")
        db.session.commit()
        heard = _changes(portal)
        assert heard == [(3, "ticket.assignee", mine.reference), (4, "comment.public", mine.reference)]
    finally:
        portal.close()
