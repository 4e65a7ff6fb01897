"""Live chat over HTTP: the staff panel and widget, and the device JSON fallback."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.chat.access import chat_attachment, ticket_for_machine, ticket_for_staff
from app.chat.messages import IncomingFile, list_messages, messages_after, post_message
from app.extensions import db
from app.models import Attachment, ChatMessage, MachinePresence, Role
from app.models.types import utcnow
from app.services.errors import DomainError
from app.services.passwords import hash_password
from tests.conftest import PASSWORD, assert_conforms, logged_in_client, make_user

HTMX = {"HX-Request": "true"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _messages_path(setup):
    return f"/api/machines/chat/{setup.ticket.reference}/messages"


# --- staff ----------------------------------------------------------------------------


def test_staff_starts_a_chat_from_the_ticket_page(agent_client, chat_device):
    setup = chat_device()
    page = agent_client.get(f"/chamados/{setup.ticket.reference}").get_data(as_text=True)
    assert "Chat ao vivo" in page and "Iniciar chat" in page and "recepcao-01 · online" in page
    started = agent_client.post(f"/chamados/{setup.ticket.reference}/chat/iniciar", headers=HTMX)
    html = started.get_data(as_text=True)
    assert started.status_code == 200 and 'data-active="1"' in html and "Encerrar chat" in html
    sent = agent_client.post(
        f"/chamados/{setup.ticket.reference}/chat/mensagens", data={"body": "Pode reiniciar?"}, headers=HTMX
    )
    assert "Pode reiniciar?" in sent.get_data(as_text=True)
    ended = agent_client.post(f"/chamados/{setup.ticket.reference}/chat/encerrar", headers=HTMX)
    html = ended.get_data(as_text=True)
    assert "Iniciar chat" in html and "Histórico de chat (1 sessão)" in html and "Pode reiniciar?" in html
    again = agent_client.post(f"/chamados/{setup.ticket.reference}/chat/encerrar", headers=HTMX)
    assert again.status_code == 409 and "Sessão já encerrada." in again.get_data(as_text=True)


def test_start_on_an_offline_device_shows_the_refusal(agent_client, chat_device):
    setup = chat_device()
    db.session.execute(update(MachinePresence).values(last_seen_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    response = agent_client.post(f"/chamados/{setup.ticket.reference}/chat/iniciar", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "Dispositivo offline" in html and "Iniciar chat" in html


def test_a_refused_message_keeps_what_was_typed(agent_client, chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    response = agent_client.post(
        f"/chamados/{setup.ticket.reference}/chat/mensagens",
        data={"body": "veja o print", "files": (io.BytesIO(b"not a png"), "print.png")},
        headers=HTMX,
    )
    html = response.get_data(as_text=True)
    assert (
        response.status_code == 422
        and "não corresponde à extensão" in html
        and "veja o print</textarea>" in html
    )


def test_widget_lists_active_chats_with_unread_counts(agent_client, chat_device, agent_user):
    setup = chat_device()
    assert "Chats ativos" not in agent_client.get("/chat/sessoes").get_data(as_text=True)
    setup.start(agent_user)
    post_message(setup.ticket, author=None, from_device=True, body="Oi")
    post_message(setup.ticket, author=None, from_device=True, body="Alguém?")
    html = agent_client.get("/chat/sessoes").get_data(as_text=True)
    assert f"#{setup.ticket.reference}" in html and 'aria-label="2 não lidas"' in html
    # Unfolded while something waits to be read, the total in its title.
    assert '<details class="chat-widget-box" open>' in html and ">2 não lidas</span></summary>" in html
    assert agent_client.post(f"/chamados/{setup.ticket.reference}/chat/lidas").status_code == 204
    html = agent_client.get("/chat/sessoes").get_data(as_text=True)
    assert 'aria-label="0 não lidas"' in html
    # All read: folded to its title, which counts the chats and no longer shows a "0".
    assert '<details class="chat-widget-box">' in html and "não lidas</span></summary>" not in html
    assert 'aria-label="1 em andamento">1</span></summary>' in html


def test_chat_pages_are_for_staff_only(app, chat_device, collaborator, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    portal = logged_in_client(app, collaborator)
    assert portal.get("/chat/sessoes").status_code in (302, 403, 404)
    assert portal.post(
        f"/chamados/{setup.ticket.reference}/chat/mensagens", data={"body": "x"}
    ).status_code in (
        302,
        403,
        404,
    )


def test_chat_files_are_served_only_to_participants(app, agent_client, chat_device, agent_user, collaborator):
    setup = chat_device()
    setup.start(agent_user)
    message = post_message(
        setup.ticket, author=None, from_device=True, body="", files=[IncomingFile("tela.png", PNG)]
    )
    attachment_id = message.attachments[0].id
    assert agent_client.get(f"/anexos/{attachment_id}").status_code == 200
    # The requester, signed in to the portal in another browser, is the chat's other side (#21);
    # another person of the same company is not.
    setup.ticket.requester.password_hash = hash_password(PASSWORD)
    db.session.commit()
    requester = logged_in_client(app, setup.ticket.requester)
    assert requester.get(f"/anexos/{attachment_id}").status_code == 200
    assert collaborator.id != setup.ticket.requester_id
    assert logged_in_client(app, collaborator).get(f"/anexos/{attachment_id}").status_code == 404
    device = app.test_client()
    path = f"/api/machines/chat/{setup.ticket.reference}/attachments/{attachment_id}"
    assert device.get(path, headers=setup.auth).data == PNG
    other = chat_device("outro-pc", ("SN-999",), ("AA-BB-CC-DD-EE-99",), "outro@paoquente.test")
    assert device.get(path, headers=other.auth).status_code == 403
    ticket_files = [a.id for a in db.session.query(Attachment).filter(Attachment.comment_id.is_(None))]
    page = agent_client.get(f"/chamados/{setup.ticket.reference}").get_data(as_text=True)
    assert ticket_files == [attachment_id] and "Anexos do chamado" not in page.split('id="chat"')[0]


# --- device JSON fallback -----------------------------------------------------------


def test_device_posts_lists_and_marks_read(app, chat_device, agent_user):
    setup = chat_device()
    api = app.test_client()
    no_session = api.get(_messages_path(setup), headers=setup.auth)
    assert no_session.get_json() == {"messages": [], "hasSession": False, "unreadCount": 0}
    refused = api.post(_messages_path(setup), json={"body": "alô"}, headers=setup.auth)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_active_session"
    assert_conforms(refused, "/api/machines/chat/{ticket}/messages")

    setup.start(agent_user)
    for n in range(3):
        post_message(setup.ticket, author=agent_user, from_device=False, body=f"agente {n}")
    posted = api.post(_messages_path(setup), json={"body": "Obrigada!"}, headers=setup.auth)
    assert posted.status_code == 201 and posted.get_json()["id"] == 4 and posted.get_json()["isFromMachine"]
    assert_conforms(posted, "/api/machines/chat/{ticket}/messages")

    listed = api.get(_messages_path(setup) + "?since=1&limit=2", headers=setup.auth)
    assert [m["body"] for m in listed.get_json()["messages"]] == ["agente 2", "Obrigada!"]
    assert listed.get_json()["unreadCount"] == 3
    assert_conforms(listed, "/api/machines/chat/{ticket}/messages", "get")

    updates = api.get("/api/machines/chat/updates", headers=setup.auth)
    assert updates.get_json()["totalUnread"] == 3 and updates.get_json()["hasActiveSessions"] is True
    assert_conforms(updates, "/api/machines/chat/updates", "get")
    sessions = api.get("/api/machines/chat/sessions", headers=setup.auth)
    assert sessions.get_json()["sessions"][0]["agentName"] == agent_user.name
    assert_conforms(sessions, "/api/machines/chat/sessions", "get")

    read = api.post(f"/api/machines/chat/{setup.ticket.reference}/read", headers=setup.auth)
    assert read.get_json() == {"ok": True, "processed": 3}
    assert_conforms(read, "/api/machines/chat/{ticket}/read")
    assert api.get("/api/machines/chat/updates", headers=setup.auth).get_json()["totalUnread"] == 0


def test_device_token_of_another_ticket_or_tenant_is_refused(
    app, chat_device, agent_user, other_tenant, make_ticket
):
    setup = chat_device()
    other = chat_device("outro-pc", ("SN-999",), ("AA-BB-CC-DD-EE-99",), "outro@paoquente.test")
    setup.start(agent_user)
    api = app.test_client()
    response = api.post(_messages_path(setup), json={"body": "intruso"}, headers=other.auth)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "ticket_not_linked"
    assert api.get(_messages_path(setup), headers=other.auth).status_code == 403
    missing = api.get("/api/machines/chat/99999/messages", headers=setup.auth)
    assert missing.status_code == 404
    assert api.get(_messages_path(setup)).status_code == 401


def test_device_files_too_large_or_disguised_are_refused_in_json(app, chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    api = app.test_client()
    disguised = api.post(
        _messages_path(setup),
        data={"body": "print", "file": (io.BytesIO(b"MZ\x90\x00 not an image"), "tela.png", "image/png")},
        headers=setup.auth,
    )
    assert disguised.status_code == 422 and disguised.get_json()["error"]["field"] == "file"
    big = api.post(
        _messages_path(setup),
        data={"file": (io.BytesIO(b"%PDF-" + b"0" * (10 * 1024 * 1024)), "manual.pdf", "application/pdf")},
        headers=setup.auth,
    )
    assert big.status_code == 413 and "10 MB" in big.get_json()["error"]["message"]
    assert_conforms(big, "/api/machines/chat/{ticket}/messages")
    ok = api.post(
        _messages_path(setup),
        data={"body": "segue", "file": (io.BytesIO(PNG), "tela.png", "image/png")},
        headers=setup.auth,
    )
    assert ok.status_code == 201 and ok.get_json()["attachments"][0]["name"] == "tela.png"


def test_malformed_chat_requests_get_clear_errors(app, chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    api = app.test_client()
    wrong = api.post(_messages_path(setup), json={"body": 5}, headers=setup.auth)
    assert wrong.status_code == 422 and wrong.get_json()["error"]["field"] == "body"
    assert api.get(_messages_path(setup) + "?since=abc", headers=setup.auth).status_code == 422
    long = api.post(_messages_path(setup), json={"body": "x" * 4001}, headers=setup.auth)
    assert long.status_code == 422


def test_managers_and_admins_can_chat_too(app, chat_device, tenant):
    setup = chat_device()
    manager = make_user(tenant, Role.MANAGER, email="gerente@suporte.test")
    client = logged_in_client(app, manager)
    assert client.post(f"/chamados/{setup.ticket.reference}/chat/iniciar", headers=HTMX).status_code == 200


# --- bad input: a clear answer, never a 500 -------------------------------------------------


def _stored_messages() -> int:
    return db.session.scalar(select(func.count()).select_from(ChatMessage))


def test_a_message_past_4000_characters_gets_the_seeds_own_words(app, chat_device, agent_user):
    """It was "Campo inválido: body ('aaa…' is too long)": the whole text back, in English."""
    setup = chat_device()
    setup.start(agent_user)
    api = app.test_client()
    seed = "Mensagem muito longa (máximo 4000 caracteres)"
    as_json = api.post(_messages_path(setup), json={"body": "a" * 4001}, headers=setup.auth)
    as_form = api.post(
        _messages_path(setup),
        data={"body": "a" * 4001, "file": (io.BytesIO(PNG), "tela.png", "image/png")},
        headers=setup.auth,
    )
    for response in (as_json, as_form):
        assert response.status_code == 422
        assert response.get_json()["error"] == {"code": "message_too_long", "message": seed, "field": "body"}
        assert_conforms(response, "/api/machines/chat/{ticket}/messages")
    # The seed counts the text as sent, before trimming: 4 000 characters are still one message.
    assert api.post(_messages_path(setup), json={"body": "a" * 4000}, headers=setup.auth).status_code == 201
    assert _stored_messages() == 1


@pytest.mark.parametrize("reference", [2**31, 2**63, 10**30])
def test_ticket_numbers_past_an_integer_are_404_on_every_chat_path(app, chat_device, agent_user, reference):
    """PostgreSQL answered them NumericValueOutOfRange (a 500); SQLite overflowed at 2^63."""
    setup = chat_device()
    setup.start(agent_user)
    api = app.test_client()
    base = f"/api/machines/chat/{reference}"
    for method, path in [
        ("GET", f"{base}/messages"),
        ("POST", f"{base}/messages"),
        ("POST", f"{base}/read"),
        ("GET", f"{base}/attachments/1"),
        ("GET", f"/api/machines/chat/{setup.ticket.reference}/attachments/{reference}"),
    ]:
        response = api.open(path, method=method, json={"body": "oi"}, headers=setup.auth)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["code"] == "not_found"
    staff = logged_in_client(app, agent_user)
    assert staff.get(f"/chamados/{reference}/chat").status_code == 404


@pytest.mark.parametrize("since", [str(2**31), str(2**63), "-1", "²", "١٢", "1e3"])
def test_a_since_that_no_message_could_have_is_422_naming_it(app, chat_device, agent_user, since):
    setup = chat_device()
    setup.start(agent_user)
    response = app.test_client().get(_messages_path(setup), query_string={"since": since}, headers=setup.auth)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == "since" and since not in error["message"]
    assert error["message"] == "Campo inválido: since (número inteiro entre 0 e 2147483647)."
    assert_conforms(response, "/api/machines/chat/{ticket}/messages", "get")
    limit = app.test_client().get(_messages_path(setup), query_string={"limit": 2**40}, headers=setup.auth)
    assert limit.status_code == 422 and limit.get_json()["error"]["field"] == "limit"


def test_a_nul_in_a_device_message_is_422_as_json_and_as_a_form(app, chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    api = app.test_client()
    as_json = api.post(_messages_path(setup), json={"body": "oi\x00"}, headers=setup.auth)
    as_form = api.post(
        _messages_path(setup),
        data={"body": "oi\x00", "file": (io.BytesIO(PNG), "tela.png", "image/png")},
        headers=setup.auth,
    )
    assert as_json.status_code == 422
    error = as_json.get_json()["error"]
    assert error["field"] == "body"
    assert error["message"] == "Campo inválido: body (caractere NUL não é aceito)."
    # A form is refused before the view by the check of every form (app/views/text_input.py), or
    # else by the chat's own rule (which a socket frame meets too): either way 422, "body" named.
    assert as_form.status_code == 422
    error = as_form.get_json()["error"]
    assert error.get("field") == "body" or "«body»" in error["message"]
    assert _stored_messages() == 0


def test_the_services_refuse_numbers_no_row_could_have(chat_device, agent_user):
    """The websocket hands frame values to these directly."""
    setup = chat_device()
    setup.start(agent_user)
    with pytest.raises(DomainError) as refused:
        ticket_for_machine(setup.machine_id, setup.ticket.tenant_id, 2**31)
    assert refused.value.status == 404
    with pytest.raises(DomainError):
        ticket_for_staff(agent_user, 2**63)
    assert messages_after(setup.ticket.id, 2**63) == []
    assert messages_after(setup.ticket.id, -(2**40)) == []
    assert list_messages(setup.ticket, since=2**40) == []
    assert chat_attachment(setup.ticket, 2**40, machine_id=setup.machine_id) is None
    with pytest.raises(DomainError) as refused:
        post_message(setup.ticket, author=None, from_device=True, body="oi\x00")
    assert (refused.value.status, refused.value.field) == (422, "body")


def test_a_multipart_part_without_a_readable_name_is_no_500(app, chat_device, agent_user):
    """Found by the schemathesis run: werkzeug gives such a part the name None."""
    setup = chat_device()
    setup.start(agent_user)
    boundary = "b0undary"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="\r"\r\n\r\nnull\r\n--{boundary}--\r\n'
    response = app.test_client().post(
        _messages_path(setup),
        data=body.encode(),
        headers={**setup.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "message_empty"
