"""The portal as a collaborator and a support agent click through it, and the
desktop app's handshake."""

import re

from playwright.sync_api import expect

from app.extensions import db
from app.models import Ticket
from tests.conftest import browser_login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_collaborator_sees_only_the_public_answer(new_page, collaborator, agent_user, queue):
    person = new_page()
    browser_login(person, collaborator)
    person.get_by_role("navigation").get_by_role("link", name="Abrir chamado").click()
    person.get_by_label("Assunto").fill("Impressora do caixa não imprime")
    person.locator("#description-editor").type("Aparece papel atolado, mas não há papel preso.")
    person.get_by_label("Anexos").set_input_files(
        files=[{"name": "erro.png", "mimeType": "image/png", "buffer": PNG}]
    )
    person.get_by_role("button", name="Abrir chamado").click()
    expect(person.locator("#flash-area")).to_contain_text("aberto")
    expect(person.locator(".badge")).to_have_text("Pendente")
    expect(person.locator(".ticket-description")).to_contain_text("erro.png")
    reference = db.session.query(Ticket).one().reference

    agent = new_page()
    browser_login(agent, agent_user)
    agent.goto(f"/chamados/{reference}")
    agent.get_by_role("button", name="▶ Iniciar").click()
    expect(agent.locator("#ticket-main .badge")).to_have_text("Em andamento")
    editor = agent.locator("#comment-editor")
    editor.click()
    editor.type("Troque o rolo de papel e reinicie a impressora.")
    agent.get_by_role("button", name="Enviar comentário").click()
    expect(agent.locator("#timeline")).to_contain_text("Troque o rolo de papel")
    editor = agent.locator("#comment-editor")
    editor.click()
    editor.type("Nota interna: impressora fora da garantia.")
    agent.get_by_label("Interno").check()
    agent.get_by_role("button", name="Enviar comentário").click()
    expect(agent.locator("#timeline")).to_contain_text("fora da garantia")

    person.reload()
    expect(person.locator(".badge")).to_have_text("Em andamento")
    expect(person.locator("#timeline")).to_contain_text("Troque o rolo de papel")
    expect(person.locator("#timeline")).not_to_contain_text("fora da garantia")
    expect(person.locator("#timeline")).not_to_contain_text("Atribuído a")
    reply = person.locator("#comment-editor")
    reply.click()
    reply.type("Funcionou, obrigado!")
    person.get_by_role("button", name="Enviar resposta").click()
    expect(person.locator("#timeline")).to_contain_text("Funcionou, obrigado!")


def test_handshake_lands_on_the_portal_with_the_person_and_no_logout(page, register_device):
    _body, auth = register_device()
    token = auth["Authorization"].split()[1]
    page.goto(f"/machines/handshake?token={token}&redirect=/portal")
    expect(page).to_have_url(re.compile(r"/portal$"))
    header = page.locator("#portal-person")
    expect(header).to_contain_text("joana@paoquente.test")
    expect(header).to_contain_text("recepcao-01")
    expect(page.get_by_role("button", name="Encerrar sessão")).to_have_count(0)
    expect(page.get_by_role("heading", name="Meus chamados")).to_be_visible()
