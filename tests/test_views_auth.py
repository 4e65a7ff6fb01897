from app.extensions import db
from tests.conftest import PASSWORD, csrf_token_from, login


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
