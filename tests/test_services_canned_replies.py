"""Respostas prontas: the tenant's texts, their variables filled (and escaped) for a ticket."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, CannedReply, Role
from app.services import canned_replies, tenancy
from app.services.errors import ValidationError
from tests.conftest import make_user


def test_variables_are_filled_for_the_ticket_and_escaped(
    make_ticket, tenant, company, agent_user, admin_user
):
    requester = make_user(tenant, Role.COLLABORATOR, company=company, name='<b>Zé</b> & "Cia"')
    ticket = make_ticket("Sem rede", requester=requester, assignee_id=agent_user.id)
    reply = canned_replies.create_reply(
        tenant.id,
        "Recebido",
        "<p>Olá, {solicitante}! O chamado #{numero} da {empresa} está com {Responsável}.</p>"
        "<p>{Número} · {desconhecida}</p><script>alert(1)</script>",
    )
    html = canned_replies.fill(reply, ticket, admin_user)
    assert html == (
        '<p>Olá, &lt;b&gt;Zé&lt;/b&gt; &amp; "Cia"! '
        f"O chamado #{ticket.reference} da Padaria Pão Quente está com Artur Agente.</p>"
        f"<p>{ticket.reference} · {{desconhecida}}</p>"
    )
    assert "<b>" not in html and "script" not in html


def test_without_a_responsavel_the_person_inserting_it_is_named(make_ticket, tenant, admin_user):
    reply = canned_replies.create_reply(tenant.id, "Assinatura", "<p>Att., {responsavel}</p>")
    assert canned_replies.fill(reply, make_ticket(), admin_user) == "<p>Att., Alice Admin</p>"


def test_title_and_text_are_checked_and_titles_are_unique_per_tenant(tenant, other_tenant):
    canned_replies.create_reply(tenant.id, "Senha", "<p>Para trocar a senha…</p>")
    for title, body, field in (
        ("", "<p>x</p>", "title"),
        ("x" * 81, "<p>x</p>", "title"),
        ("Outra", "<p> </p>", "body"),
        ("  senha ", "<p>x</p>", "title"),  # the same title, whatever the case and spaces
    ):
        with pytest.raises(ValidationError) as error:
            canned_replies.create_reply(tenant.id, title, body)
        assert error.value.field == field
    with tenancy.scope(other_tenant.id):  # another tenant may have its own "Senha"
        canned_replies.create_reply(other_tenant.id, "Senha", "<p>Deles</p>")
        assert [r.body_html for r in canned_replies.list_replies()] == ["<p>Deles</p>"]
    with tenancy.scope(tenant.id):
        assert [r.body_html for r in canned_replies.list_replies()] == ["<p>Para trocar a senha…</p>"]


def test_the_menu_lists_this_tenants_titles_only(tenant, other_tenant):
    mine = canned_replies.create_reply(tenant.id, "Senha", "<p>Para trocar a senha…</p>")
    canned_replies.create_reply(tenant.id, "impressora", "<p>Reinicie a impressora.</p>")
    with tenancy.scope(other_tenant.id):
        canned_replies.create_reply(other_tenant.id, "Deles", "<p>Deles</p>")
    with tenancy.scope(tenant.id):
        menu = canned_replies.menu_replies()
    assert [reply.title for reply in menu] == ["impressora", "Senha"]  # by title, whatever the case
    assert mine.id in {reply.id for reply in menu}


def test_update_writes_only_a_change_and_delete_removes(tenant):
    reply = canned_replies.create_reply(tenant.id, "Reinício", "<p>Reinicie o computador.</p>")
    assert canned_replies.update_reply(reply, "Reinício", "<p>Reinicie o computador.</p>") is False
    assert canned_replies.update_reply(reply, "Reiniciar", "<p>Reinicie, por favor.</p>") is True
    assert (reply.title, reply.body_html) == ("Reiniciar", "<p>Reinicie, por favor.</p>")
    canned_replies.delete_reply(reply)
    assert db.session.scalars(select(CannedReply)).all() == []


def test_admin_changes_are_audited(admin_client, tenant):
    admin_client.post(
        "/respostas-prontas", data={"title": "Boas-vindas", "body": "<p>Olá, {solicitante}</p>"}
    )
    reply = db.session.scalars(select(CannedReply)).one()
    admin_client.post(
        f"/respostas-prontas/{reply.id}", data={"title": "Boas vindas", "body": reply.body_html}
    )
    admin_client.post(f"/respostas-prontas/{reply.id}/excluir")
    rows = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(r.action, r.target_label) for r in rows if r.target_type == "resposta pronta"] == [
        ("resposta pronta.criar", "Boas-vindas"),
        ("resposta pronta.alterar", "Boas vindas"),
        ("resposta pronta.excluir", "Boas vindas"),
    ]
    changed = next(r for r in rows if r.action == "resposta pronta.alterar")
    assert changed.changes == {"title": ["Boas-vindas", "Boas vindas"]}
