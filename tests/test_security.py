import pytest

from app.models import Role
from tests.conftest import login, make_user

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
        (Role.COLLABORATOR, {p: 403 for p in STAFF_PAGES + ADMIN_PAGES}),
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
