"""A person logging in, in a real browser."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD


def test_admin_logs_in_and_sees_the_painel(page, admin_user):
    page.goto("/login")
    page.get_by_label("E-mail").fill(admin_user.email)
    page.get_by_label("Senha").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("heading", name="Painel")).to_be_visible()
    expect(page.get_by_role("navigation")).to_contain_text("Empresas")
    expect(page.locator(".who")).to_contain_text("Alice Admin")


def test_wrong_password_shows_the_portuguese_error(page, admin_user):
    page.goto("/login")
    page.get_by_label("E-mail").fill(admin_user.email)
    page.get_by_label("Senha").fill("senha-errada")
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("alert")).to_have_text("E-mail ou senha inválidos.")
    expect(page.get_by_label("E-mail")).to_have_value(admin_user.email)
