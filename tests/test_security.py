import pytest

from app.models import Role
from tests.conftest import csrf_token_from, login, make_user

STAFF_PAGES = ["/", "/chamados", "/dispositivos", "/admin/saude"]
ADMIN_PAGES = ["/empresas", "/usuarios"]


@pytest.mark.parametrize("path", STAFF_PAGES + ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.ADMIN, {p: 200 for p in STAFF_PAGES + ADMIN_PAGES}),
        (Role.MANAGER, {**{p: 200 for p in STAFF_PAGES}, **{p: 403 for p in ADMIN_PAGES}}),
        (Role.AGENT, {**{p: 200 for p in STAFF_PAGES}, **{p: 403 for p in ADMIN_PAGES}}),
        (Role.COLLABORATOR, {p: 302 for p in STAFF_PAGES + ADMIN_PAGES}),
    ],
)
def test_role_access(app, tenant, company, role, expected):
    user = make_user(tenant, role, company=company if role is Role.COLLABORATOR else None)
    client = app.test_client()
    login(client, user)
    assert {path: client.get(path).status_code for path in expected} == expected


def test_forbidden_page_is_in_portuguese(app, tenant, company):
    user = make_user(tenant, Role.AGENT)
    client = app.test_client()
    login(client, user)
    assert "Você não tem permissão" in client.get("/empresas").get_data(as_text=True)


def test_collaborators_are_sent_to_the_portal(app, tenant, company, make_ticket):
    person = make_user(tenant, Role.COLLABORATOR, company=company)
    make_ticket("Meu mouse quebrou", requester=person)
    make_ticket("Chamado de outra pessoa")
    client = app.test_client()
    assert login(client, person).headers["Location"] == "/portal"
    assert client.get("/chamados").headers["Location"] == "/portal"
    html = client.get("/portal").get_data(as_text=True)
    assert "Meus chamados" in html and "Meu mouse quebrou" in html
    assert "Chamado de outra pessoa" not in html and "Empresas" not in html


def test_collaborator_posting_to_staff_urls_gets_403(app, tenant, company, make_ticket):
    person = make_user(tenant, Role.COLLABORATOR, company=company)
    ticket = make_ticket(requester=person)
    client = app.test_client()
    login(client, person)
    token = csrf_token_from(client, "/portal")
    response = client.post(
        f"/chamados/{ticket.reference}/status", data={"action": "iniciar", "csrf_token": token}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("origin", "ours"),
    [
        ("http://127.0.0.1:5411", True),
        ("HTTP://127.0.0.1:5411/", True),
        ("http://127.0.0.1:5411.evil.example", False),  # a prefix of ours is another host
        ("https://127.0.0.1:5411", False),  # another scheme is another origin
        ("http://127.0.0.1:5412", False),  # and so is another port
        ("http://127.0.0.1", False),
        ("null", False),
        ("", False),
        ("http://127.0.0.1:5411/pagina", False),
        ("http://127.0.0.1:99999", False),
        ("https://painel.example.com", True),  # listed in the setting
        ("https://painel.example.com:443", True),
        ("tauri://localhost", True),
        ("tauri://localhost.evil", False),
    ],
)
def test_an_origin_is_ours_only_by_exact_scheme_host_and_port(app, origin, ours):
    from app.security import origin_is_ours

    allowed = ("https://painel.example.com", "tauri://localhost")
    with app.test_request_context("/", base_url="http://127.0.0.1:5411"):
        assert origin_is_ours(origin, allowed) is ours


def test_behind_the_proxy_the_forwarded_origin_is_ours(make_app):
    """With PROXY_FIX_HOPS the origin is the forwarded scheme and host, not the backend's."""
    client = make_app(PROXY_FIX_HOPS="1").test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chamados.example.com"}

    def session_call(origin):
        return client.post("/api/machines/sessions", json={}, headers={**forwarded, "Origin": origin})

    assert session_call("https://chamados.example.com").get_json()["error"]["code"] != "origin_not_allowed"
    assert session_call("http://chamados.example.com").get_json()["error"]["code"] == "origin_not_allowed"
    assert session_call("https://chamados.example.com.evil").status_code == 403
