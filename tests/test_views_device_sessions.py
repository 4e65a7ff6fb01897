"""Device sessions: the handshake, POST /api/machines/sessions, the device
context, and what a device session may do in the portal (seed 001)."""

from sqlalchemy import select

from app.devices.admin import adjust_access, reset_agent
from app.extensions import db
from app.models import Machine, Persona, Ticket


def _token(auth: dict) -> str:
    return auth["Authorization"].split()[1]


def test_handshake_signs_in_the_devices_person_and_lands_on_the_portal(app, register_device, make_ticket):
    body, auth = register_device()
    client = app.test_client()
    response = client.get(f"/machines/handshake?token={_token(auth)}&redirect=/portal")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal")
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("session=") for c in cookies) and any(
        c.startswith("machine_ctx=") for c in cookies
    )
    assert all("HttpOnly" in c for c in cookies)
    assert _token(auth) not in " ".join(cookies)  # the token itself is never kept in a cookie
    html = client.get("/portal").get_data(as_text=True)
    assert "joana@paoquente.test" in html and "recepcao-01" in html
    assert "Encerrar sessão" not in html  # hidden in device sessions
    context = client.get("/api/machines/session").get_json()
    assert (
        context["machine"]["id"] == body["machineId"]
        and context["assignedUser"]["email"] == "joana@paoquente.test"
    )


def test_tickets_opened_in_a_device_session_are_linked_to_the_device(app, register_device, queue):
    body, auth = register_device()
    client = app.test_client()
    client.get(f"/machines/handshake?token={_token(auth)}")
    page = client.get("/portal/chamados/novo").get_data(as_text=True)
    assert "recepcao-01" in page
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(
        "/portal/chamados/novo", data={"subject": "Impressora", "description": "", "csrf_token": csrf}
    )
    ticket = db.session.scalar(select(Ticket))
    machine = db.session.get(Machine, body["machineId"])
    assert ticket.machine_id == machine.id and ticket.requester_id == machine.assigned_user_id


def test_bad_expired_or_revoked_tokens_get_a_portuguese_page(app, register_device):
    body, auth = register_device()
    client = app.test_client()
    bad = client.get("/machines/handshake?token=nao-e-um-token")
    assert bad.status_code == 401 and "Token do dispositivo inválido" in bad.get_data(as_text=True)
    assert "Traceback" not in bad.get_data(as_text=True)
    reset_agent(db.session.get(Machine, body["machineId"]))
    revoked = client.get(f"/machines/handshake?token={_token(auth)}")
    assert revoked.status_code == 401 and "Token revogado" in revoked.get_data(as_text=True)
    assert client.get("/portal").status_code == 302  # no session was created


def test_handshake_redirect_accepts_only_listed_paths(app, register_device):
    _body, auth = register_device()
    client = app.test_client()
    for target in ("https://evil.example/", "//evil.example", "/admin/saude", "/portal/../chamados"):
        response = client.get(f"/machines/handshake?token={_token(auth)}&redirect={target}")
        assert response.status_code == 400 and "Destino" in response.get_data(as_text=True)
    assert client.get("/portal").status_code == 302
    ok = client.get(f"/machines/handshake?token={_token(auth)}&redirect=/portal/debug")
    assert ok.headers["Location"].endswith("/portal/debug")


def test_resetting_the_agent_ends_the_browser_session(app, register_device):
    body, auth = register_device()
    client = app.test_client()
    client.get(f"/machines/handshake?token={_token(auth)}")
    assert client.get("/portal").status_code == 200
    reset_agent(db.session.get(Machine, body["machineId"]))
    response = client.get("/portal")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "sessão do dispositivo terminou" in client.get("/login").get_data(as_text=True)
    assert client.get("/api/machines/session").status_code == 401


def test_json_session_with_cors_credentials_for_listed_origins(app, register_device):
    body, auth = register_device()
    client = app.test_client()
    origin = "tauri://localhost"
    preflight = client.open("/api/machines/sessions", method="OPTIONS", headers={"Origin": origin})
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    response = client.post(
        "/api/machines/sessions", json={"machineToken": _token(auth)}, headers={"Origin": origin}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert (
        response.get_json()["machineId"] == body["machineId"]
        and response.get_json()["persona"] == "collaborator"
    )
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 2  # each cookie in its own header
    assert client.get("/portal").status_code == 200

    stranger = app.test_client().post(
        "/api/machines/sessions",
        json={"machineToken": _token(auth)},
        headers={"Origin": "https://evil.example"},
    )
    assert stranger.status_code == 403 and stranger.get_json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in stranger.headers
    bad = app.test_client().post("/api/machines/sessions", json={"machineToken": "x" * 40})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "token_invalid"


def test_manager_persona_device_session_sees_the_company(app, register_device, make_ticket, tenant, company):
    from app.models import Role
    from tests.conftest import make_user

    body, auth = register_device()
    machine = db.session.get(Machine, body["machineId"])
    adjust_access(machine, "joana@paoquente.test", "manager")
    db.session.commit()
    other = make_user(tenant, Role.COLLABORATOR, email="caixa@paoquente.test", company=company)
    make_ticket("Da caixa", requester=other)
    client = app.test_client()
    client.get(f"/machines/handshake?token={_token(auth)}")
    html = client.get("/portal").get_data(as_text=True)
    assert "Chamados da empresa" in html and "Da caixa" in html
    assert client.get("/api/machines/session").get_json()["persona"] == Persona.MANAGER.value


def test_debug_page_shows_the_session_without_secrets(app, register_device):
    _body, auth = register_device()
    client = app.test_client()
    client.get(f"/machines/handshake?token={_token(auth)}")
    html = client.get("/portal/debug").get_data(as_text=True)
    assert (
        "joana@paoquente.test" in html and "&#34;deviceSession&#34;: true" in html and "recepcao-01" in html
    )
    assert _token(auth) not in html and "token_id" not in html and "password" not in html


def test_password_login_after_a_device_session_is_a_normal_session(app, register_device, collaborator):
    from tests.conftest import login

    _body, auth = register_device()
    client = app.test_client()
    client.get(f"/machines/handshake?token={_token(auth)}")
    csrf = client.get("/portal").get_data(as_text=True).split('"X-CSRFToken": "')[1].split('"')[0]
    logout = client.post("/logout", data={"csrf_token": csrf})
    assert any(c.startswith("machine_ctx=;") for c in logout.headers.getlist("Set-Cookie"))
    assert login(client, collaborator).status_code == 302
    html = client.get("/portal").get_data(as_text=True)
    assert "colab@paoquente.test" in html and "Encerrar sessão" in html


def test_a_device_without_an_active_person_cannot_open_a_session(app, register_device):
    body, auth = register_device()
    machine = db.session.get(Machine, body["machineId"])
    machine.assigned_user.is_active = False
    db.session.commit()
    response = app.test_client().get(f"/machines/handshake?token={_token(auth)}")
    assert response.status_code == 403 and "Nenhuma pessoa ativa" in response.get_data(as_text=True)


STAFF_PAGES = ("/", "/chamados", "/dispositivos", "/usuarios", "/empresas", "/admin/saude")


def test_a_device_registered_with_a_staff_email_never_opens_a_staff_session(app, register_device, admin_user):
    """Anyone with the provisioning secret and a company code can register a computer with any
    e-mail: a staff member's must never turn the device's token into a staff session."""
    body, auth = register_device(email=admin_user.email)
    assert body["assignedUser"]["email"] == admin_user.email
    client = app.test_client()
    handshake = client.get(f"/machines/handshake?token={_token(auth)}")
    assert handshake.status_code == 403
    assert "equipe de suporte" in handshake.get_data(as_text=True)
    json_session = client.post("/api/machines/sessions", json={"machineToken": _token(auth)})
    assert json_session.status_code == 403 and json_session.get_json()["error"]["code"] == "staff_person"
    for path in (*STAFF_PAGES, "/portal"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_a_device_session_ends_when_its_person_becomes_staff(app, register_device):
    body, auth = register_device()
    client = app.test_client()
    assert client.get(f"/machines/handshake?token={_token(auth)}").status_code == 302
    assert client.get("/portal").status_code == 200
    machine = db.session.get(Machine, body["machineId"])
    machine.assigned_user.role = "agent"
    db.session.commit()
    response = client.get("/chamados")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/chamados").status_code == 302  # signed out, not a staff page
