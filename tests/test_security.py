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
