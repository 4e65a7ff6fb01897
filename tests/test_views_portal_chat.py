"""The portal's side of the live chat (app/views/portal_chat.py): "Falar com o suporte", the
panel on the ticket page for the device session and for the requester, sending with files,
marking read, the end of a session, and nobody else (another device, person, company, tenant)."""

import io
import re

import pytest

from app.chat.messages import post_message
from app.chat.sessions import end_session
from app.extensions import db
from app.models import ChatMessage, LiveChatSession, Persona
from app.services.passwords import hash_password
from tests.conftest import PASSWORD, csrf_token_from, logged_in_client, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def device_session_client(app, setup):
    """A browser opened by the desktop agent: the handshake signs it in as the device's person."""
    client = app.test_client()
    response = client.get(f"/machines/handshake?token={setup.token}&redirect=/portal")
    assert response.status_code == 302
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token_from(client, "/portal")
    return client


def requester_client(app, setup):
    requester = setup.ticket.requester
    requester.password_hash = hash_password(PASSWORD)
    db.session.commit()
    return logged_in_client(app, requester)


def htmx(client, method, path, **kwargs):
    return getattr(client, method)(path, headers={"HX-Request": "true"}, **kwargs)


def session_of(setup) -> LiveChatSession:
    db.session.expire_all()
    return db.session.query(LiveChatSession).filter_by(ticket_id=setup.ticket.id).one()


@pytest.fixture
def chatting(chat_device, agent_user):
    """A device with a ticket on which support started a chat and wrote once."""
    setup = chat_device()
    setup.start(agent_user)
    post_message(setup.ticket, author=agent_user, from_device=False, body="Olá, aqui é o suporte.")
    return setup


def test_the_entry_appears_only_while_a_chat_is_active(app, chat_device, agent_user):
    setup = chat_device()
    portal = device_session_client(app, setup)
    # The desktop agent's chat window is this page, opened through the handshake.
    landing = app.test_client().get(f"/machines/handshake?token={setup.token}&redirect=/portal/chat")
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/portal/chat")
    assert "Falar com o suporte" not in htmx(portal, "get", "/portal/chat/entrada").get_data(as_text=True)
    assert "Nenhum chat ativo" in portal.get("/portal/chat").get_data(as_text=True)

    setup.start(agent_user)
    post_message(setup.ticket, author=agent_user, from_device=False, body="Olá!")
    entry = htmx(portal, "get", "/portal/chat/entrada").get_data(as_text=True)
    assert "Falar com o suporte" in entry
    assert re.search(r'aria-label="1 não lidas">1<', entry)  # the unread count
    # The desktop agent's "Falar com o suporte" goes straight to the one active chat.
    opened = portal.get("/portal/chat")
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith(f"/portal/chamados/{setup.ticket.reference}#chat")


def test_the_device_session_chats_on_the_ticket_page(app, chatting, agent_user):
    portal = device_session_client(app, chatting)
    page = portal.get(f"/portal/chamados/{chatting.ticket.reference}").get_data(as_text=True)
    assert "Chat com o suporte" in page and "Olá, aqui é o suporte." in page
    assert f"<strong>{agent_user.name}</strong>, do suporte" in page  # the agent's name
    assert 'data-side="customer"' in page and 'data-unread="1"' in page

    sent = htmx(
        portal,
        "post",
        f"/portal/chamados/{chatting.ticket.reference}/chat/mensagens",
        data={"body": "Obrigada!\nJá reiniciei.", "files": (io.BytesIO(PNG), "tela.png")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 200
    assert "Já reiniciei." in sent.get_data(as_text=True) and "tela.png" in sent.get_data(as_text=True)
    message = db.session.query(ChatMessage).order_by(ChatMessage.seq.desc()).first()
    assert message.from_machine and message.author_id == chatting.ticket.requester_id
    assert message.body == "Obrigada!\nJá reiniciei."
    assert session_of(chatting).unread_by_agent == 1  # support sees one new message

    read = portal.post(f"/portal/chamados/{chatting.ticket.reference}/chat/lidas")
    assert read.status_code == 204 and session_of(chatting).unread_by_machine == 0
    # The file goes to the person who is the chat's other side.
    assert portal.get(f"/anexos/{message.attachments[0].id}").data == PNG


def test_a_refused_file_keeps_what_was_typed(app, chatting):
    portal = device_session_client(app, chatting)
    refused = htmx(
        portal,
        "post",
        f"/portal/chamados/{chatting.ticket.reference}/chat/mensagens",
        data={"body": "segue o programa", "files": (io.BytesIO(b"MZ\x90\x00"), "setup.exe")},
        content_type="multipart/form-data",
    )
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'role="alert"' in text and "segue o programa</textarea>" in text
    assert db.session.query(ChatMessage).count() == 1  # only support's


def test_the_requester_signed_in_normally_sees_the_same_chat(app, chatting):
    portal = requester_client(app, chatting)
    page = portal.get(f"/portal/chamados/{chatting.ticket.reference}").get_data(as_text=True)
    assert "Olá, aqui é o suporte." in page
    sent = htmx(
        portal, "post", f"/portal/chamados/{chatting.ticket.reference}/chat/mensagens", data={"body": "Oi"}
    )
    assert sent.status_code == 200
    assert db.session.query(ChatMessage).filter_by(body="Oi").one().from_machine


def test_the_end_of_a_session_is_said(app, chatting, agent_user):
    end_session(agent_user, chatting.ticket)
    portal = device_session_client(app, chatting)
    panel = htmx(portal, "get", f"/portal/chamados/{chatting.ticket.reference}/chat").get_data(as_text=True)
    assert "Sessão encerrada" in panel and "Olá, aqui é o suporte." in panel  # in the history
    assert 'id="chat-body"' not in panel
    closed = htmx(
        portal, "post", f"/portal/chamados/{chatting.ticket.reference}/chat/mensagens", data={"body": "Oi?"}
    )
    assert closed.status_code == 409 and "Nenhuma sessão de chat ativa" in closed.get_data(as_text=True)
    assert "Falar com o suporte" not in htmx(portal, "get", "/portal/chat/entrada").get_data(as_text=True)


def test_nobody_else_sees_the_chat(app, chatting, chat_device, collaborator, company, tenant, other_tenant):
    reference = chatting.ticket.reference
    paths = (f"/portal/chamados/{reference}/chat", f"/portal/chamados/{reference}/chat/lidas")
    manager = make_user(tenant, role=collaborator.role, email="gerente@paoquente.test", company=company)
    manager.persona = Persona.MANAGER  # sees the company's tickets, but is not the chat's other side
    db.session.commit()
    other_device = chat_device("outro-pc", ("SN-999",), ("AA-BB-CC-DD-EE-99",), "outro@paoquente.test")
    outsider = make_user(other_tenant, role=collaborator.role, email="fora@outra.test")
    visitors = {
        "a colleague": logged_in_client(app, collaborator),
        "the company's manager": logged_in_client(app, manager),
        "another device": device_session_client(app, other_device),
        "another tenant": logged_in_client(app, outsider),
    }
    for who, client in visitors.items():
        assert htmx(client, "get", paths[0]).status_code == 404, who
        assert client.post(paths[1]).status_code == 404, who
        sent = htmx(client, "post", f"/portal/chamados/{reference}/chat/mensagens", data={"body": "x"})
        assert sent.status_code == 404, who
        assert "Falar com o suporte" not in htmx(client, "get", "/portal/chat/entrada").get_data(as_text=True)
    assert db.session.query(ChatMessage).count() == 1
    # The company's manager sees the ticket in the portal, without its chat.
    page = visitors["the company's manager"].get(f"/portal/chamados/{reference}").get_data(as_text=True)
    assert "Impressora não imprime" in page
    assert 'id="chat"' not in page and "Olá, aqui é o suporte." not in page
