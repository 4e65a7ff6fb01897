"""The ticket workspace as an agent clicks through it."""

import re

from playwright.sync_api import expect

from app.extensions import db
from app.models import Comment, Ticket, TicketStatus
from tests.conftest import browser_login


def test_filter_then_reload_keeps_the_filter(page, agent_user, make_ticket):
    make_ticket("Impressora travada", status=TicketStatus.PAUSED)
    make_ticket("Rede lenta")
    browser_login(page, agent_user)
    page.goto("/chamados?f=1")
    expect(page.locator("#ticket-table")).to_contain_text("Rede lenta")
    page.get_by_label("Pausado").check()
    expect(page).to_have_url(re.compile(r"/chamados\?f=1&status=PAUSED$"))
    expect(page.locator("#ticket-table")).not_to_contain_text("Rede lenta")
    expect(page.locator(".count")).to_have_text("1 chamado(s)")
    page.reload()
    expect(page.get_by_label("Pausado")).to_be_checked()
    expect(page.locator("#ticket-table")).to_contain_text("Impressora travada")
    expect(page.locator("#ticket-table")).not_to_contain_text("Rede lenta")
    page.go_back()
    expect(page.locator("#ticket-table")).to_contain_text("Rede lenta")


def test_saved_default_follows_the_user_to_another_browser(new_page, agent_user, make_ticket):
    make_ticket("Urgente de verdade", priority="URGENT")
    make_ticket("Pode esperar", priority="LOW")
    first = new_page()
    browser_login(first, agent_user)
    first.goto("/chamados?f=1")
    first.get_by_label("Prioridade", exact=True).select_option("URGENT")
    expect(first.locator("#ticket-table")).not_to_contain_text("Pode esperar")
    first.get_by_role("button", name="Salvar como padrão").click()
    expect(first.locator("#flash-area")).to_contain_text("Filtro salvo como padrão.")

    second = new_page()  # another browser: no shared storage
    browser_login(second, agent_user)
    second.get_by_role("navigation").get_by_role("link", name="Chamados").click()
    expect(second).to_have_url(re.compile(r"prioridade=URGENT"))
    expect(second.locator("#ticket-table")).to_contain_text("Urgente de verdade")
    expect(second.locator("#ticket-table")).not_to_contain_text("Pode esperar")
    second.get_by_role("button", name="Limpar padrão").click()
    expect(second.locator("#flash-area")).to_contain_text("Filtro padrão removido.")
    second.goto("/chamados")
    expect(second.locator("#ticket-table")).to_contain_text("Pode esperar")


def test_start_pause_then_close_with_cancel_first(page, agent_user, make_ticket):
    ticket = make_ticket("Monitor piscando")
    browser_login(page, agent_user)
    page.goto(f"/chamados/{ticket.reference}")
    badge = page.locator("#ticket-main .badge")
    expect(badge).to_have_text("Pendente")

    page.get_by_role("button", name="▶ Iniciar").click()
    expect(badge).to_have_text("Em andamento")
    page.get_by_label("Motivo da pausa").fill("Aguardando o usuário")
    page.get_by_role("button", name="Pausar").click()
    expect(badge).to_have_text("Pausado")
    expect(page.locator("#timeline")).to_contain_text("Em andamento → Pausado (Aguardando o usuário)")

    page.get_by_role("button", name="Encerrar", exact=True).click()
    dialog = page.locator("#close-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("trix-editor").type("Cabo de vídeo trocado.")
    dialog.get_by_role("button", name="Cancelar").click()
    expect(dialog).to_be_hidden()
    expect(badge).to_have_text("Pausado")
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status is TicketStatus.PAUSED

    page.get_by_role("button", name="Encerrar", exact=True).click()
    dialog.get_by_role("button", name="Limpar mensagem").click()
    expect(dialog.locator("trix-editor")).to_have_text("")
    dialog.locator("trix-editor").type("Cabo de vídeo trocado.")
    dialog.get_by_role("button", name="Encerrar chamado").click()
    expect(badge).to_have_text("Resolvido")
    expect(page.get_by_role("button", name="Reabrir")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Cabo de vídeo trocado.")
    db.session.expire_all()
    closing = db.session.query(Comment).filter_by(ticket_id=ticket.id).one()
    assert "Cabo de vídeo trocado." in closing.body_html


def test_assigning_enables_the_editor_without_reload(page, agent_user, make_ticket):
    ticket = make_ticket("Sem responsável ainda")
    browser_login(page, agent_user)
    page.goto(f"/chamados/{ticket.reference}")
    expect(page.locator("#comment-editor-disabled")).to_have_text(re.compile("Atribua um responsável"))
    expect(page.locator("#comment-editor")).to_have_count(0)
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Responsável").select_option(label=agent_user.name)
    editor = page.locator("#comment-editor")
    expect(editor).to_be_visible()
    editor.click()
    editor.type("Olá, já estou olhando.")
    page.get_by_role("button", name="Enviar comentário").click()
    expect(page.locator("#timeline")).to_contain_text("Olá, já estou olhando.")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
