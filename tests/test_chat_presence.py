"""Presence (#22) over /ws/chat: who else has a ticket open and who is writing in it, staff only;
gone when the page leaves, its socket closes or its heartbeats stop; shared by every process
through Redis."""

import time

import orjson
import pytest

from app.chat import presence
from app.models import Role
from tests.conftest import TEST_REDIS_URL, logged_in_client, make_user
from tests.test_chat_socket import _next, _portal_socket, _send, _staff_socket, two_servers  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_presence(app):
    """Each test starts with nobody anywhere (ids are reused between tests on SQLite)."""
    app.extensions.pop("chamados_chat_presence", None)
    yield
    app.extensions.pop("chamados_chat_presence", None)


@pytest.fixture
def ana(tenant):
    return make_user(tenant, role=Role.AGENT, email="ana@suporte.test", name="Ana Souza")


@pytest.fixture
def bruno(tenant):
    return make_user(tenant, role=Role.AGENT, email="bruno@suporte.test", name="Bruno Lima")


def _presence(ws, ticket, timeout=5.0, where=lambda frame: True):
    return _next(ws, "presence", timeout=timeout, where=lambda f: f["ticket"] == ticket and where(f))


def _viewers(frame):
    return [(viewer["name"], viewer["initials"], viewer["typing"]) for viewer in frame["viewers"]]


def _close(*sockets):
    for ws in sockets:
        if ws.connected:
            ws.close()


def _quiet(ws, quiet=0.6):
    """Every frame until the socket is quiet."""
    frames = []
    while (raw := ws.receive(timeout=quiet)) is not None:
        frames.append(orjson.loads(raw))
    return frames


def test_a_list_sees_who_opens_a_ticket_types_and_closes(app, live_server, ana, bruno, make_ticket):
    ticket = make_ticket("Impressora")
    watcher = _staff_socket(live_server, app, bruno)
    page = _staff_socket(live_server, app, ana)
    try:
        _next(watcher, "hello")
        _next(page, "hello")
        _send(watcher, type="presence_watch")
        time.sleep(0.2)
        _send(page, type="presence", ticket=ticket.reference, typing=False)
        # Ana's own page is told who else is there: nobody (she never sees herself).
        assert _presence(page, ticket.reference)["viewers"] == []
        frame = _presence(watcher, ticket.reference)
        assert frame["viewers"] == [{"id": ana.id, "name": "Ana Souza", "initials": "AS", "typing": False}]

        _send(page, type="presence", ticket=ticket.reference, typing=True)
        assert _viewers(_presence(watcher, ticket.reference)) == [("Ana Souza", "AS", True)]
        _send(page, type="presence", ticket=ticket.reference, typing=True)  # a heartbeat: nothing new
        assert [f for f in _quiet(watcher) if f["type"] == "presence"] == []

        page.close()  # the socket goes: so does Ana
        assert _presence(watcher, ticket.reference, where=lambda f: f["viewers"] == [])
    finally:
        _close(page, watcher)


def test_two_ticket_pages_see_each_other_and_the_one_that_leaves_goes(
    app, live_server, ana, bruno, make_ticket
):
    ticket = make_ticket("VPN")
    other = make_ticket("Outro")
    first = _staff_socket(live_server, app, ana)
    second = _staff_socket(live_server, app, bruno)
    try:
        _next(first, "hello")
        _next(second, "hello")
        _send(first, type="presence", ticket=ticket.reference, typing=False)
        assert _presence(first, ticket.reference)["viewers"] == []
        _send(second, type="presence", ticket=ticket.reference, typing=False)
        assert _viewers(_presence(second, ticket.reference)) == [("Ana Souza", "AS", False)]
        assert _viewers(_presence(first, ticket.reference)) == [("Bruno Lima", "BL", False)]

        # Ana's page on another ticket says nothing to Bruno about it; leaving says she went.
        _send(second, type="presence", ticket=None)
        assert _presence(first, ticket.reference)["viewers"] == []
        _send(second, type="presence", ticket=other.reference, typing=False)
        assert _presence(second, other.reference)["viewers"] == []
        assert all(f["ticket"] != other.reference for f in _quiet(first) if f["type"] == "presence")
    finally:
        _close(first, second)


def test_several_tabs_of_one_person_are_one_viewer(app, live_server, ana, bruno, make_ticket):
    ticket = make_ticket("Dois abas")
    tabs = [_staff_socket(live_server, app, ana) for _ in range(2)]
    watcher = _staff_socket(live_server, app, bruno)
    try:
        _next(watcher, "hello")
        _send(watcher, type="presence", ticket=ticket.reference, typing=False)
        assert _presence(watcher, ticket.reference)["viewers"] == []
        for tab in tabs:
            _next(tab, "hello")
        # One tab after the other, each seen before the next (the server handles sockets in parallel).
        _send(tabs[0], type="presence", ticket=ticket.reference, typing=False)
        assert _viewers(_presence(watcher, ticket.reference, where=lambda f: f["viewers"])) == [
            ("Ana Souza", "AS", False)
        ]
        _send(tabs[1], type="presence", ticket=ticket.reference, typing=True)
        assert _viewers(_presence(watcher, ticket.reference, where=lambda f: f["viewers"][0]["typing"])) == [
            ("Ana Souza", "AS", True)
        ]
        tabs[1].close()
        assert _viewers(_presence(watcher, ticket.reference)) == [("Ana Souza", "AS", False)]
    finally:
        _close(*tabs, watcher)


def test_an_entry_whose_heartbeats_stop_expires_without_a_close(
    app, live_server, ana, bruno, make_ticket, monkeypatch
):
    monkeypatch.setitem(app.config, "CHAT_PRESENCE_SECONDS", 1.0)
    ticket = make_ticket("Notebook dormindo")
    page = _staff_socket(live_server, app, ana)
    watcher = _staff_socket(live_server, app, bruno)
    try:
        _next(page, "hello")
        _next(watcher, "hello")
        _send(watcher, type="presence_watch")
        time.sleep(0.2)
        _send(page, type="presence", ticket=ticket.reference, typing=False)
        assert _viewers(_presence(watcher, ticket.reference)) == [("Ana Souza", "AS", False)]
        seen_at = time.monotonic()
        # Ana's socket stays open but says nothing more: she is gone after the expiry.
        assert _presence(watcher, ticket.reference, timeout=4)["viewers"] == []
        assert 0.8 < time.monotonic() - seen_at < 3
        # A heartbeat after the expiry brings her back.
        _send(page, type="presence", ticket=ticket.reference, typing=False)
        assert _viewers(_presence(watcher, ticket.reference)) == [("Ana Souza", "AS", False)]
    finally:
        _close(page, watcher)


def test_the_portal_neither_sends_nor_hears_presence(app, live_server, ana, collaborator, make_ticket):
    mine = make_ticket("O meu", requester=collaborator)
    portal = _portal_socket(live_server, logged_in_client(app, collaborator))
    page = _staff_socket(live_server, app, ana)
    try:
        assert _next(portal, "hello")["side"] == "person"
        _next(page, "hello")
        _send(portal, type="presence", ticket=mine.reference, typing=True)
        assert _next(portal, "error")["code"] == "unknown_type"
        _send(portal, type="presence_watch")
        assert _next(portal, "error")["code"] == "unknown_type"
        _send(portal, type="watch")
        _send(portal, type="feed", after=0)
        _send(page, type="presence", ticket=mine.reference, typing=True)
        assert _presence(page, mine.reference)["viewers"] == []
        assert "presence" not in [frame["type"] for frame in _quiet(portal)]
        assert presence.viewers_by_ticket(ana.tenant_id, except_user=None)[0] == {
            mine.reference: [{"id": ana.id, "name": "Ana Souza", "initials": "AS", "typing": True}]
        }
    finally:
        _close(portal, page)


def test_a_device_neither_sends_nor_hears_presence(app, live_server, chat_device, agent_user):
    from tests.test_chat_socket import _device_socket

    setup = chat_device()
    device = _device_socket(live_server, setup)
    try:
        _next(device, "hello")
        _send(device, type="presence", ticket=setup.ticket.reference, typing=False)
        assert _next(device, "error")["code"] == "unknown_type"
        _send(device, type="presence_watch")
        assert _next(device, "error")["code"] == "unknown_type"
    finally:
        device.close()


def test_presence_on_a_ticket_one_may_not_see_is_refused(app, live_server, ana, other_tenant):
    from app.services.tickets import create_ticket

    stranger = make_user(other_tenant, role=Role.COLLABORATOR, email="x@outra.test")
    theirs = create_ticket(tenant_id=other_tenant.id, requester=stranger, subject="De outro suporte")
    page = _staff_socket(live_server, app, ana)
    try:
        _next(page, "hello")
        for ticket in (theirs.reference, "42", True):
            _send(page, type="presence", ticket=ticket, typing=False)
            assert _next(page, "error")["code"] in ("ticket_not_found", "invalid_field")
        assert presence.viewers_by_ticket(ana.tenant_id, except_user=None)[0] == {}
    finally:
        page.close()


def test_initials():
    assert presence.initials("Ana Souza") == "AS"
    assert presence.initials("ana de souza lima") == "AL"
    assert presence.initials("Bruno") == "B"
    assert presence.initials("  Érica   Ávila ") == "ÉÁ"
    assert presence.initials("") == "?"


# --- scale-out -----------------------------------------------------------------------


@pytest.mark.skipif(not TEST_REDIS_URL, reason="presence across processes needs Redis (TEST_REDIS_URL)")
def test_two_processes_share_presence_through_redis(app, two_servers, ana, bruno, make_ticket):  # noqa: F811
    from app.redis_client import get_redis

    server_a, server_b = two_servers
    ticket = make_ticket("Servidor de arquivos")
    page = _staff_socket(server_a, app, ana)
    watcher = _staff_socket(server_b, app, bruno)
    try:
        _next(page, "hello")
        _next(watcher, "hello")
        _send(watcher, type="presence_watch")
        time.sleep(0.3)
        _send(page, type="presence", ticket=ticket.reference, typing=False)
        assert _viewers(_presence(watcher, ticket.reference)) == [("Ana Souza", "AS", False)]
        _send(page, type="presence", ticket=ticket.reference, typing=True)
        assert _viewers(_presence(watcher, ticket.reference)) == [("Ana Souza", "AS", True)]
        # The entry is in Redis, in the tenant's hash, not in either process.
        client = get_redis()
        key = f"chamados:{client.connection_pool.connection_kwargs.get('db', 0)}:presence:{ana.tenant_id}"
        (field,) = client.hkeys(key)
        assert field.decode().startswith(f"{ana.id}:")
        assert 0 < client.ttl(key) <= 2 * presence.EXPIRY_SECONDS + 1
        # A third socket, on the other process, sees her at once.
        late = _staff_socket(server_b, app, bruno)
        try:
            _next(late, "hello")
            _send(late, type="presence", ticket=ticket.reference, typing=False)
            assert _viewers(_presence(late, ticket.reference)) == [("Ana Souza", "AS", True)]
        finally:
            _close(late)
        page.close()  # process A drops her; process B's watcher hears it
        assert _presence(watcher, ticket.reference, where=lambda f: f["viewers"] == [])
        assert client.hlen(key) <= 1  # Bruno's late page may still be leaving
    finally:
        _close(page, watcher)
