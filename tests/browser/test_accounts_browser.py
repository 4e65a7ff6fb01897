"""Accounts in a real browser: "Esqueci a senha" from the login page to the e-mail's link and a
new password; changing the password in Minha conta; enrolling in the second factor with the code
an app would compute from the secret on the page, signing in with password + code and with a
recovery code (once); an admin requiring the second factor sends an agent without one to enrol.
Screenshots of the main screens at desktop and phone sizes; no CSP report or script error."""

import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import EmailMessage
from app.services import two_factor
from tests.conftest import PASSWORD, browser_login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
NEW_PASSWORD = "senha-nova-do-navegador-1"
NEWER_PASSWORD = "outra-senha-do-navegador-2"


def _shoot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=SCREENSHOTS / f"contas-{name}-{label}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


@pytest.fixture
def watched(page):
    """The page, with every CSP report and script error it meets collected."""
    problems = []
    page.on(
        "console",
        lambda message: (
            ("Content Security Policy" in message.text or "Refused to" in message.text)
            and problems.append((page.url, message.text))
        ),
    )
    page.on("pageerror", lambda error: problems.append((page.url, str(error))))
    yield page
    assert problems == []


def _sign_in_with_password(page, email, password):
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()


def _sign_out(page):
    page.get_by_role("button", name="Encerrar sessão").click()
    expect(page.get_by_role("heading", name="Chamados")).to_be_visible()


def _reset_link(user) -> str:
    db.session.rollback()  # see what the server committed
    body = db.session.scalars(
        select(EmailMessage.body_text)
        .where(EmailMessage.kind == "password_reset", EmailMessage.recipient_id == user.id)
        .order_by(EmailMessage.id.desc())
    ).first()
    return re.search(r"https?://\S+/redefinir-senha\?token=\S+", body).group(0)


def test_forgot_password_then_change_it_in_minha_conta(watched, live_server, agent_user):
    page = watched
    page.goto("/login")
    _shoot(page, "login")
    page.get_by_role("link", name="Esqueci a senha").click()
    expect(page.get_by_role("heading", name="Esqueci a senha")).to_be_visible()
    page.get_by_label("E-mail").fill("nao-e-email")
    page.get_by_role("button", name="Enviar link").click()
    expect(page.get_by_role("alert")).to_have_text("Informe um e-mail válido.")
    page.get_by_label("E-mail").fill(agent_user.email)
    _shoot(page, "esqueci-a-senha")
    page.get_by_role("button", name="Enviar link").click()
    expect(page.get_by_role("status")).to_contain_text("Se o e-mail estiver cadastrado, enviaremos um link")
    _shoot(page, "esqueci-a-senha-enviado")

    # The e-mail in the outbox carries the link, built from PUBLIC_BASE_URL: open it on this server.
    link = _reset_link(agent_user)
    assert link.startswith("http://127.0.0.1:5000/redefinir-senha?token=")
    page.goto(link.replace("http://127.0.0.1:5000", live_server))
    expect(page.get_by_role("heading", name="Nova senha")).to_be_visible()
    page.get_by_label("Nova senha", exact=True).fill("curta")
    page.get_by_label("Confirme a nova senha").fill("curta")
    page.get_by_role("button", name="Salvar nova senha").click()
    expect(page.get_by_role("alert")).to_have_text("A senha deve ter pelo menos 8 caracteres.")
    expect(page.get_by_label("Nova senha", exact=True)).to_have_value("")
    page.get_by_label("Nova senha", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirme a nova senha").fill(NEW_PASSWORD)
    _shoot(page, "nova-senha")
    page.get_by_role("button", name="Salvar nova senha").click()
    expect(page.locator("#flash-area")).to_contain_text("Senha redefinida. Entre com a nova senha.")

    _sign_in_with_password(page, agent_user.email, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("E-mail ou senha inválidos.")
    _sign_in_with_password(page, agent_user.email, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Painel")).to_be_visible()
    # The link was good once.
    page.goto(link.replace("http://127.0.0.1:5000", live_server))
    expect(page.get_by_role("heading", name="Link inválido")).to_be_visible()

    page.goto("/")
    page.get_by_role("link", name="Minha conta").click()
    expect(page.get_by_role("heading", name="Alterar senha")).to_be_visible()
    page.get_by_label("Senha atual").fill("nao-e-esta")
    page.get_by_label("Nova senha (mínimo 8 caracteres)").fill(NEWER_PASSWORD)
    page.get_by_label("Confirme a nova senha").fill(NEWER_PASSWORD + "x")
    page.get_by_role("button", name="Alterar senha").click()
    expect(page.locator("#password")).to_contain_text("Senha atual incorreta.")
    expect(page.locator("#password")).to_contain_text("As duas senhas não são iguais.")
    _shoot(page, "minha-conta-erros")
    page.get_by_label("Senha atual").fill(NEW_PASSWORD)
    page.get_by_label("Nova senha (mínimo 8 caracteres)").fill(NEWER_PASSWORD)
    page.get_by_label("Confirme a nova senha").fill(NEWER_PASSWORD)
    page.get_by_role("button", name="Alterar senha").click()
    expect(page.locator("#flash-area")).to_contain_text("Senha alterada.")
    page.goto("/chamados")  # this session goes on
    expect(page.get_by_role("heading", name="Chamados")).to_be_visible()
    _sign_out(page)
    _sign_in_with_password(page, agent_user.email, NEWER_PASSWORD)
    expect(page.get_by_role("heading", name="Painel")).to_be_visible()


def test_enrol_then_sign_in_with_a_code_and_with_a_recovery_code_once(watched, agent_user):
    page = watched
    browser_login(page, agent_user)
    page.get_by_role("link", name="Minha conta").click()
    _shoot(page, "minha-conta")
    page.get_by_role("link", name="Ativar verificação em duas etapas").click()
    expect(page.get_by_role("img", name="Código QR para o aplicativo autenticador")).to_be_visible()
    _shoot(page, "ativar-duas-etapas")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Código do aplicativo").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Confirmar e ativar").click()
    expect(page.get_by_role("alert")).to_contain_text("Código incorreto.")
    page.get_by_label("Código do aplicativo").fill(totp.now())
    page.get_by_role("button", name="Confirmar e ativar").click()
    expect(page.get_by_role("heading", name="Verificação em duas etapas ativada")).to_be_visible()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    _shoot(page, "codigos-de-recuperacao")
    page.get_by_role("link", name="Já guardei os códigos").click()
    expect(page.locator("#two-factor")).to_contain_text("Ativa")
    expect(page.locator("#two-factor")).not_to_contain_text(secret[:8])
    _sign_out(page)

    # Password, then the app's code (the next one: the one that confirmed enrolment is spent).
    _sign_in_with_password(page, agent_user.email, PASSWORD)
    expect(page.get_by_role("heading", name="Verificação em duas etapas")).to_be_visible()
    page.goto("/chamados")  # not signed in yet
    expect(page.get_by_role("button", name="Entrar")).to_be_visible()
    _sign_in_with_password(page, agent_user.email, PASSWORD)
    _shoot(page, "codigo-ao-entrar")
    page.get_by_label("Código de verificação").fill("123456" if totp.now() != "123456" else "654321")
    page.get_by_role("button", name="Verificar").click()
    expect(page.get_by_role("alert")).to_contain_text("Código inválido.")
    page.get_by_label("Código de verificação").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Verificar").click()
    expect(page.get_by_role("heading", name="Painel")).to_be_visible()
    _sign_out(page)

    # A recovery code, once.
    for attempt in range(2):
        _sign_in_with_password(page, agent_user.email, PASSWORD)
        page.get_by_label("Código de verificação").fill(codes[0].upper())
        page.get_by_role("button", name="Verificar").click()
        if attempt == 0:
            expect(page.get_by_role("heading", name="Painel")).to_be_visible()
            _sign_out(page)
        else:
            expect(page.get_by_role("alert")).to_contain_text("Código inválido.")


def test_an_admin_requiring_the_second_factor_sends_an_agent_to_enrol(
    watched, new_page, admin_user, agent_user
):
    secret = two_factor.new_secret()
    two_factor.enable(admin_user, secret, pyotp.TOTP(secret).now())
    db.session.commit()  # the browser's requests see it
    page = watched
    _sign_in_with_password(page, admin_user.email, PASSWORD)
    page.get_by_label("Código de verificação").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Verificar").click()
    expect(page.get_by_role("heading", name="Painel")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="Usuários").click()
    page.get_by_role("link", name="Segurança").click()
    expect(page.locator("#staff-two-factor")).to_contain_text("Artur Agente")
    page.get_by_label("Exigir verificação em duas etapas da equipe").check()
    page.get_by_role("button", name="Salvar").click()
    expect(page.locator("#flash-area")).to_contain_text(
        "A equipe agora precisa da verificação em duas etapas"
    )
    _shoot(page, "seguranca")

    agent = new_page()
    _sign_in_with_password(agent, agent_user.email, PASSWORD)
    expect(agent.get_by_role("heading", name="Ativar verificação em duas etapas")).to_be_visible()
    expect(agent.get_by_role("status").first).to_contain_text("Sua equipe exige a verificação em duas etapas")
    expect(agent.get_by_role("navigation", name="Navegação principal")).to_have_count(0)
    _shoot(agent, "duas-etapas-exigida")
    agent.goto("/chamados")
    expect(agent.get_by_role("heading", name="Ativar verificação em duas etapas")).to_be_visible()
    totp = pyotp.TOTP(agent.locator("#totp-secret").inner_text().replace(" ", ""))
    agent.get_by_label("Código do aplicativo").fill(totp.now())
    agent.get_by_role("button", name="Confirmar e ativar").click()
    agent.get_by_role("link", name="Já guardei os códigos").click()
    agent.goto("/chamados")
    expect(agent.get_by_role("heading", name="Chamados")).to_be_visible()
