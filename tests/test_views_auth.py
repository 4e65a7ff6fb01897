import re
import time

import pyotp
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, EmailMessage, Role
from app.services import two_factor
from tests.conftest import CSRF_INPUT, PASSWORD, csrf_token_from, login, make_user


def test_login_page_is_in_portuguese(client):
    html = client.get("/login").get_data(as_text=True)
    assert "Entrar" in html and "Senha" in html and "Lembrar-me" in html
    assert 'lang="pt-BR"' in html


def test_login_redirects_to_the_painel(client, agent_user):
    response = login(client, agent_user)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Painel" in client.get("/").get_data(as_text=True)


def test_wrong_password_shows_a_portuguese_error_and_keeps_the_email(client, agent_user):
    response = login(client, agent_user, password="errada")
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "E-mail ou senha inválidos." in html
    assert 'value="agente@acme.test"' in html


def test_inactive_user_cannot_log_in(client, agent_user):
    agent_user.is_active = False
    db.session.commit()
    response = login(client, agent_user)
    assert response.status_code == 401
    assert "desativada" in response.get_data(as_text=True)


def test_deactivating_a_user_ends_their_session(client, agent_user):
    login(client, agent_user)
    assert client.get("/").status_code == 200
    agent_user.is_active = False
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_remember_me_sets_a_long_lived_cookie_only_when_asked(app, agent_user):
    plain = app.test_client()
    login(plain, agent_user)
    assert plain.get_cookie("remember_token") is None
    remembered = app.test_client()
    login(remembered, agent_user, remember="1")
    cookie = remembered.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only


def test_login_without_csrf_token_is_refused(client, agent_user):
    response = client.post("/login", data={"email": agent_user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "Recarregue a página" in response.get_data(as_text=True)


def test_logout_needs_post_with_csrf(client, agent_user):
    login(client, agent_user)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    token = csrf_token_from(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_htmx_requests_carry_the_csrf_token_in_a_header(agent_client):
    html = agent_client.get("/").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_next_parameter_cannot_redirect_off_site(client, agent_user):
    token = csrf_token_from(client)
    for target, expected in (
        ("/chamados", "/chamados"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
    ):
        client.post("/logout", data={"csrf_token": token})
        token = csrf_token_from(client)
        response = client.post(
            "/login",
            data={"email": agent_user.email, "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert response.headers["Location"] == expected
        token = csrf_token_from(client, "/")


def test_login_is_rate_limited_with_a_portuguese_message(app, client, agent_user):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [login(client, agent_user, password="errada").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        response = login(client, agent_user)  # even the right password waits
        assert response.status_code == 429
        assert "Muitas tentativas" in response.get_data(as_text=True)
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"


# --- Esqueci a senha -------------------------------------------------------------------------

RESET_SENT = "Se o e-mail estiver cadastrado, enviaremos um link para redefinir a senha."
NEW_PASSWORD = "uma-senha-nova-456"


def forgot(client, email):
    token = csrf_token_from(client, "/esqueci-a-senha")
    return client.post("/esqueci-a-senha", data={"email": email, "csrf_token": token})


def reset_token_for(user) -> str:
    message = db.session.scalars(
        select(EmailMessage)
        .where(EmailMessage.kind == "password_reset", EmailMessage.recipient_id == user.id)
        .order_by(EmailMessage.id.desc())
    ).first()
    return re.search(r"/redefinir-senha\?token=([\w-]+)", message.body_text).group(1)


def test_the_login_page_links_to_esqueci_a_senha(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/esqueci-a-senha"' in html and "Esqueci a senha" in html
    assert "Informe o e-mail da sua conta" in client.get("/esqueci-a-senha").get_data(as_text=True)


def test_forgot_password_answers_the_same_whether_or_not_the_email_exists(app, client, agent_user, tenant):
    make_user(tenant, Role.AGENT, email="saiu@acme.test", active=False)
    answers = []
    for email in (agent_user.email, "ninguem@acme.test", "saiu@acme.test"):
        response = forgot(app.test_client(), email)
        html = response.get_data(as_text=True)
        assert RESET_SENT in html
        answers.append((response.status_code, CSRF_INPUT.sub("", html)))  # the page, but its token
    assert len(set(answers)) == 1 and answers[0][0] == 200
    assert db.session.scalar(select(func.count()).select_from(EmailMessage)) == 1


def test_forgot_password_refuses_what_is_no_email_keeping_it(client):
    response = forgot(client, "nao-e-email")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Informe um e-mail válido." in html and 'value="nao-e-email"' in html


def test_forgot_password_is_rate_limited_per_address(app, client):
    app.config["PASSWORD_RESET_RATE_LIMIT"] = "2 per minute"
    try:
        statuses = [forgot(client, f"pessoa{n}@acme.test").status_code for n in range(3)]
        assert statuses == [200, 200, 429]
        assert "Muitas tentativas" in forgot(client, "x@acme.test").get_data(as_text=True)
    finally:
        app.config["PASSWORD_RESET_RATE_LIMIT"] = "5 per 15 minutes"


def test_the_reset_link_sets_a_new_password_once(app, client, agent_user):
    signed_in = app.test_client()
    login(signed_in, agent_user)
    forgot(client, agent_user.email)
    token = reset_token_for(agent_user)
    page = client.get(f"/redefinir-senha?token={token}")
    assert page.status_code == 200 and "Nova senha" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"

    csrf = csrf_token_from(client, f"/redefinir-senha?token={token}")
    refused = client.post(
        "/redefinir-senha",
        data={"token": token, "password": "curta-1", "password_confirm": "curta-2", "csrf_token": csrf},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "A senha deve ter pelo menos 8 caracteres." in html
    assert "curta-1" not in html and "curta-2" not in html
    mismatch = client.post(
        "/redefinir-senha",
        data={"token": token, "password": NEW_PASSWORD, "password_confirm": "outra", "csrf_token": csrf},
    )
    assert mismatch.status_code == 422 and "As duas senhas não são iguais." in mismatch.get_data(as_text=True)

    done = client.post(
        "/redefinir-senha",
        data={"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "csrf_token": csrf},
    )
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert "Senha redefinida. Entre com a nova senha." in client.get("/login").get_data(as_text=True)
    assert signed_in.get("/").status_code == 302  # the session opened with the old password ended
    assert login(app.test_client(), agent_user, password=NEW_PASSWORD).status_code == 302
    again = client.get(f"/redefinir-senha?token={token}")
    assert again.status_code == 400 and "Peça um novo link" in again.get_data(as_text=True)


def test_a_wrong_or_missing_token_gets_a_portuguese_page(client):
    for url in ("/redefinir-senha", "/redefinir-senha?token=abc", f"/redefinir-senha?token={'x' * 500}"):
        response = client.get(url)
        assert response.status_code == 400 and "não vale mais" in response.get_data(as_text=True)
    csrf = csrf_token_from(client)
    response = client.post(
        "/redefinir-senha",
        data={"token": "abc", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "csrf_token": csrf},
    )
    assert response.status_code == 400


# --- the second step of a sign-in ------------------------------------------------------------


def enrolled(user) -> tuple[str, list[str]]:
    secret = two_factor.new_secret()
    return secret, two_factor.enable(user, secret, pyotp.TOTP(secret).now())


def next_code(secret):
    return pyotp.TOTP(secret).at(time.time() + 30)


def send_code(client, code):
    return client.post("/login/verificacao", data={"code": code, "csrf_token": csrf_token_from(client)})


def test_with_a_second_factor_the_password_alone_does_not_sign_in(client, agent_user):
    secret, _ = enrolled(agent_user)
    response = login(client, agent_user)
    assert response.status_code == 302 and response.headers["Location"] == "/login/verificacao"
    assert client.get("/").status_code == 302  # not signed in yet
    page = client.get("/login/verificacao").get_data(as_text=True)
    assert "Código de verificação" in page and "códigos de recuperação" in page

    wrong = send_code(client, "000000" if next_code(secret) != "000000" else "111111")
    assert wrong.status_code == 401 and "Código inválido" in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert send_code(client, "").status_code == 422

    done = send_code(client, next_code(secret))
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    logins = db.session.scalars(
        select(AuditLog).where(AuditLog.action.startswith("login.")).order_by(AuditLog.id)
    ).all()
    assert [row.action for row in logins] == ["login.falha", "login.sucesso"]
    assert logins[0].changes == {"motivo": [None, "código de verificação inválido"]}
    assert logins[1].changes == {"segundo fator": [None, "aplicativo"]}


def test_a_recovery_code_signs_in_once(app, agent_user):
    _, codes = enrolled(agent_user)
    first = app.test_client()
    login(first, agent_user)
    assert send_code(first, codes[0]).headers["Location"] == "/"
    second = app.test_client()
    login(second, agent_user)
    assert send_code(second, codes[0]).status_code == 401
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert "login.código_de_recuperação" in actions


def test_the_second_step_waits_only_a_few_minutes(app, client, agent_user):
    secret, _ = enrolled(agent_user)
    app.config["TWO_FACTOR_PENDING_SECONDS"] = -1
    try:
        login(client, agent_user)
    finally:
        app.config["TWO_FACTOR_PENDING_SECONDS"] = 300
    response = send_code(client, next_code(secret))
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "o tempo para digitar o código acabou" in client.get("/login").get_data(as_text=True)
    assert client.get("/login/verificacao").headers["Location"] == "/login"


def test_the_second_step_is_rate_limited_per_account(app, client, agent_user):
    secret, _ = enrolled(agent_user)
    login(client, agent_user)
    statuses = [send_code(client, "99999x").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert "Muitas tentativas" in send_code(client, next_code(secret)).get_data(as_text=True)


def test_the_second_step_keeps_remember_me_and_next(client, agent_user):
    secret, _ = enrolled(agent_user)
    login(client, agent_user, remember="1", next="/chamados")
    assert client.get_cookie("remember_token") is None
    response = send_code(client, next_code(secret))
    assert response.headers["Location"] == "/chamados"
    assert client.get_cookie("remember_token") is not None


def test_a_password_change_ends_the_pending_second_step(client, agent_user):
    secret, _ = enrolled(agent_user)
    login(client, agent_user)
    from app.services.users import set_password

    set_password(agent_user, NEW_PASSWORD)
    assert send_code(client, next_code(secret)).headers["Location"] == "/login"
