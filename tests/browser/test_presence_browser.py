"""Presence (#22) in two browsers: Bruno's list shows Ana's initials on the ticket she has open,
his ticket page says she is there and when she is writing, through the page's live refreshes,
and all of it goes when she leaves."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Role
from app.services.tickets import assign, change_status
from tests.conftest import browser_login, make_user

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LIVE = 3_000  # ms: presence and typing show up within this
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _fresh_presence(app):
    app.extensions.pop("chamados_chat_presence", None)  # nobody from an earlier test's pages
    yield


def _shots(page, name, showing):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, suffix in ((DESKTOP, "desktop"), (PHONE, "mobile")):
        page.set_viewport_size(size)
        showing.scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / f"presence-{name}-{suffix}.png")
    page.set_viewport_size(DESKTOP)


def test_who_has_a_ticket_open_and_who_is_writing(new_page, tenant, make_ticket):
    ana = make_user(tenant, role=Role.AGENT, email="ana@suporte.test", name="Ana Souza")
    bruno = make_user(tenant, role=Role.AGENT, email="bruno@suporte.test", name="Bruno Lima")
    ticket = make_ticket("Impressora da recepção")
    other = make_ticket("E-mail não sincroniza")
    assign(ticket, ana.id, ana)
    db.session.commit()  # the browser's requests see it

    his = new_page()
    his.set_viewport_size(DESKTOP)
    browser_login(his, bruno)
    his.goto("/chamados")
    expect(his.locator("#ticket-rows tr")).to_have_count(2)

    hers = new_page()
    hers.set_viewport_size(DESKTOP)
    browser_login(hers, ana)
    hers.goto(f"/chamados/{ticket.reference}")

    # Bruno's list: Ana's initials in the row of the ticket she has open, and only there.
    badge = his.locator(f'tr[data-reference="{ticket.reference}"] .presence-badge')
    expect(badge).to_have_text("AS", timeout=LIVE)
    expect(badge).to_have_attribute("title", "Ana Souza está vendo este chamado")
    expect(his.locator(f'tr[data-reference="{other.reference}"] .presence-badge')).to_have_count(0)
    # A ticket opened meanwhile refreshes the rows (live.js): the initials are put back.
    third = make_ticket("Sem acesso à VPN")
    expect(his.locator(f'tr[data-reference="{third.reference}"]')).to_be_visible(timeout=LIVE)
    expect(badge).to_have_text("AS")
    _shots(his, "list", badge)

    # Bruno opens it too: each sees the other, never themselves.
    his.goto(f"/chamados/{ticket.reference}")
    box = his.locator("#ticket-presence")
    expect(box).to_have_text("Também neste chamado: Ana Souza", timeout=LIVE)
    expect(hers.locator("#ticket-presence")).to_have_text("Também neste chamado: Bruno Lima", timeout=LIVE)

    # Ana writes a comment: Bruno sees it, through a refresh of the ticket's main part.
    editor = hers.locator("#comment-editor")
    editor.click()
    editor.type("Vou trocar o toner")
    expect(box.locator(".presence-typing")).to_have_text("Ana Souza está escrevendo…", timeout=LIVE)
    change_status(ticket, "iniciar", bruno)
    db.session.commit()  # the browser's requests see it
    expect(his.locator("#ticket-main [data-status]")).to_have_text("Em andamento", timeout=LIVE)
    expect(box).to_contain_text("Também neste chamado: Ana Souza")
    expect(box).to_contain_text("Ana Souza está escrevendo…")
    _shots(his, "ticket", box)
    # She stops typing: it goes after a few seconds; she is still there.
    expect(box.locator(".presence-typing")).to_have_count(0, timeout=8_000)
    expect(box).to_have_text("Também neste chamado: Ana Souza")

    # She leaves: gone within a few seconds, from his ticket page and from the list.
    hers.goto("/chamados")
    expect(box).to_be_empty(timeout=LIVE)
    expect(hers.locator(f'tr[data-reference="{ticket.reference}"] .presence-badge')).to_have_text(
        "BL", timeout=LIVE
    )
    his.goto("/chamados")
    expect(hers.locator(f'tr[data-reference="{ticket.reference}"] .presence-badge')).to_have_count(
        0, timeout=LIVE
    )
