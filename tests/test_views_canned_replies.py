"""Respostas prontas: the admin page, the ticket's menu and the filled text the editor inserts."""

from sqlalchemy import select

from app.extensions import db
from app.models import CannedReply
from app.services import canned_replies, tenancy
from tests.conftest import logged_in_client


def test_only_admins_manage_them(app, agent_client, collaborator, admin_client, tenant):
    reply = canned_replies.create_reply(tenant.id, "Senha", "<p>Troque a senha.</p>")
    assert admin_client.get("/respostas-prontas").status_code == 200
    assert agent_client.get("/respostas-prontas").status_code == 403
    assert agent_client.post("/respostas-prontas", data={"title": "x", "body": "<p>x</p>"}).status_code == 403
    assert agent_client.post(f"/respostas-prontas/{reply.id}/excluir").status_code == 403
    portal = logged_in_client(app, collaborator)
    assert portal.get("/respostas-prontas").headers["Location"] == "/portal"
    assert (
        portal.post(f"/respostas-prontas/{reply.id}", data={"title": "y", "body": "<p>y</p>"}).status_code
        == 403
    )
    assert db.session.scalars(select(CannedReply.title)).all() == ["Senha"]


def test_bad_input_answers_422_in_portuguese_and_keeps_what_was_typed(admin_client, tenant):
    response = admin_client.post("/respostas-prontas", data={"title": "Sem texto", "body": "<p> </p>"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Escreva o texto da resposta pronta." in html
    assert 'name="title" value="Sem texto"' in html
    canned_replies.create_reply(tenant.id, "Senha", "<p>Troque a senha.</p>")
    duplicate = admin_client.post(
        "/respostas-prontas", data={"title": "SENHA", "body": "<p>Outra {numero}</p>"}
    )
    html = duplicate.get_data(as_text=True)
    assert duplicate.status_code == 422 and "Já existe uma resposta pronta chamada “SENHA”." in html
    assert 'value="&lt;p&gt;Outra {numero}&lt;/p&gt;"' in html  # the text comes back to the editor
    assert admin_client.get("/respostas-prontas/999999").status_code == 404


def test_create_edit_delete_from_the_page(admin_client):
    created = admin_client.post(
        "/respostas-prontas", data={"title": "Reinício", "body": "<p>Reinicie, {solicitante}.</p>"}
    )
    assert created.status_code == 302
    reply = db.session.scalars(select(CannedReply)).one()
    page = admin_client.get("/respostas-prontas").get_data(as_text=True)
    assert "Reinício" in page and "<code>{solicitante}</code>" in page
    edit = admin_client.get(f"/respostas-prontas/{reply.id}").get_data(as_text=True)
    assert "Editar “Reinício”" in edit
    admin_client.post(f"/respostas-prontas/{reply.id}", data={"title": "Reiniciar", "body": reply.body_html})
    db.session.expire_all()
    assert db.session.get(CannedReply, reply.id).title == "Reiniciar"
    admin_client.post(f"/respostas-prontas/{reply.id}/excluir")
    assert db.session.scalars(select(CannedReply)).all() == []


def test_the_ticket_menu_and_the_filled_text(
    agent_client, admin_client, make_ticket, agent_user, tenant, app
):
    reply = canned_replies.create_reply(tenant.id, "Recebido", "<p>Olá, {solicitante}: chamado {numero}.</p>")
    ticket = make_ticket(assignee_id=agent_user.id)
    page = agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)
    url = f"/chamados/{ticket.reference}/respostas-prontas/{reply.id}"
    assert f'data-canned-url="{url}">Recebido</button>' in page
    assert "Gerenciar respostas prontas" not in page and "/static/canned.js" in page
    assert "Gerenciar respostas prontas" in admin_client.get(f"/chamados/{ticket.reference}").get_data(
        as_text=True
    )
    response = agent_client.get(url)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "title": "Recebido",
        "html": f"<p>Olá, Carlos Colaborador: chamado {ticket.reference}.</p>",
    }
    assert agent_client.get(f"/chamados/{ticket.reference}/respostas-prontas/999999").status_code == 404


def test_another_tenants_reply_is_not_found(agent_client, make_ticket, other_tenant):
    with tenancy.scope(other_tenant.id):
        theirs = canned_replies.create_reply(other_tenant.id, "Deles", "<p>Deles</p>")
    ticket = make_ticket()
    assert agent_client.get(f"/chamados/{ticket.reference}/respostas-prontas/{theirs.id}").status_code == 404


def test_collaborators_cannot_fetch_filled_replies(app, collaborator, make_ticket, tenant):
    reply = canned_replies.create_reply(tenant.id, "Recebido", "<p>{solicitante}</p>")
    ticket = make_ticket()
    portal = logged_in_client(app, collaborator)
    response = portal.get(f"/chamados/{ticket.reference}/respostas-prontas/{reply.id}")
    assert response.status_code == 302 and response.headers["Location"] == "/portal"
