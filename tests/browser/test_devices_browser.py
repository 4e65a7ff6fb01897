"""An admin working a device page in a real browser."""

from playwright.sync_api import expect

from app.models import Role
from tests.conftest import browser_login, make_user


def test_reset_agent_and_link_a_user(page, app, admin_user, register_device, tenant, company):
    _body, auth = register_device(hostname="financeiro-03")
    make_user(tenant, Role.COLLABORATOR, email="gestora@paoquente.test", company=company, name="Gestora Lima")
    browser_login(page, admin_user)

    page.get_by_role("navigation").get_by_role("link", name="Dispositivos").click()
    page.get_by_role("link", name="financeiro-03").click()
    expect(page.get_by_role("heading", name="financeiro-03")).to_be_visible()
    expect(page.locator("#tokens")).to_contain_text("Ativo")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resetar agente").click()
    expect(page.locator("#flash-area")).to_contain_text("Agente resetado")
    expect(page.locator("#tokens")).to_contain_text("Revogado (agente resetado)")
    # The old token is refused at once.
    assert app.test_client().post("/api/machines/heartbeat", json={}, headers=auth).status_code == 401

    page.get_by_label("E-mail do usuário a vincular").fill("gestora@paoquente.test")
    page.get_by_role("button", name="Vincular").click()
    expect(page.locator("#flash-area")).to_contain_text("Usuário vinculado.")
    expect(page.locator("#linked-users")).to_contain_text("Gestora Lima")
    page.get_by_role("button", name="Remover gestora@paoquente.test").click()
    expect(page.locator("#linked-users")).to_contain_text("Nenhum outro usuário vinculado.")
