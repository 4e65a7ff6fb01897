"""Back and forward through the ticket list's filters and a ticket, as a person clicks: no script
error on any step. (chat.js threw on every history restore, which has no htmx target; fixed in
eefde31, "chat.js no longer throws on a history restore". This keeps it fixed.)"""

import re

from playwright.sync_api import expect

from app.models import TicketStatus
from tests.conftest import browser_login


def test_back_and_forward_in_the_list_raise_no_script_error(page, agent_user, make_ticket):
    paused = make_ticket("Impressora travada", status=TicketStatus.PAUSED)
    make_ticket("Rede lenta")
    errors = []
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on("console", lambda line: line.type == "error" and errors.append(f"{page.url}: {line.text}"))
    browser_login(page, agent_user)
    page.goto("/chamados?f=1")
    table = page.locator("#ticket-table")
    expect(table).to_contain_text("Rede lenta")
    page.get_by_text("Filtros", exact=True).click()  # the whole filter form opens on demand
    page.get_by_label("Pausado").check()  # htmx pushes the filtered list
    expect(page).to_have_url(re.compile(r"status=PAUSED"))
    expect(table).not_to_contain_text("Rede lenta")
    page.keyboard.press("Escape")  # the filter panel folds away from the table
    page.get_by_role("link", name="Impressora travada").click()
    expect(page).to_have_url(re.compile(rf"/chamados/{paused.reference}$"))

    for _ in range(2):
        page.go_back()  # the filtered list (a full page from the browser's history)
        expect(page).to_have_url(re.compile(r"status=PAUSED"))
        expect(page.locator("#ticket-table")).not_to_contain_text("Rede lenta")
        page.go_back()  # htmx restores the unfiltered list (a history restore)
        expect(page.locator("#ticket-table")).to_contain_text("Rede lenta")
        page.go_forward()
        expect(page.locator("#ticket-table")).not_to_contain_text("Rede lenta")
        page.go_forward()
        expect(page).to_have_url(re.compile(rf"/chamados/{paused.reference}$"))
    page.wait_for_timeout(300)  # anything the last restore set off
    assert errors == []
