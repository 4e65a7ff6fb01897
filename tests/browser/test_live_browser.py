"""Live screens (#22): two people in two browsers; what one changes shows up on the other's
screen within 2 s, without a reload, and without touching what the other is typing or has
ticked. The portal sees the public reply and never the internal note."""

from pathlib import Path

from playwright.sync_api import expect

from app.extensions import db
from app.services.tickets import add_comment, assign
from tests.conftest import browser_login, make_user

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LIVE = 2_000  # ms: what "live" means here


def test_the_list_and_the_ticket_page_follow_anothers_changes(new_page, agent_user, tenant, make_ticket):
    from app.models import Role

    first = make_ticket("Impressora da recepção")
    second = make_ticket("E-mail não sincroniza")
    colleague = make_user(tenant, role=Role.AGENT, email="bruno@suporte.test", name="Bruno Lima")
    bruno = new_page()
    browser_login(bruno, colleague)
    bruno.goto("/chamados")
    rows = bruno.locator("#ticket-rows tr")
    expect(rows).to_have_count(2)
    bruno.get_by_label(f"Selecionar #{second.reference}").check()

    # A ticket opened elsewhere appears on Bruno's open list, highlighted; his tick stays.
    third = make_ticket("Sem acesso à VPN")
    new_row = bruno.locator(f'tr[data-reference="{third.reference}"]')
    expect(new_row).to_be_visible(timeout=LIVE)
    expect(new_row).to_have_class("live-changed")
    expect(bruno.get_by_label(f"Selecionar #{second.reference}")).to_be_checked()

    # Ana starts #1 in her browser while Bruno has it open with a half-written comment.
    assign(first, colleague.id, agent_user)
    db.session.commit()  # the browser's requests see it
    bruno.goto(f"/chamados/{first.reference}")
    editor = bruno.locator("#comment-editor")
    editor.click()
    editor.type("Estou verificando o toner")
    ana = new_page()
    browser_login(ana, agent_user)
    ana.goto(f"/chamados/{first.reference}")
    ana.get_by_role("button", name="▶ Iniciar").click()
    expect(ana.locator("#ticket-main [data-status]")).to_have_text("Em andamento")
    expect(bruno.locator("#ticket-main [data-status]")).to_have_text("Em andamento", timeout=LIVE)
    expect(bruno.get_by_role("button", name="▶ Iniciar")).to_have_count(0)  # the stale action is gone
    expect(bruno.locator("#timeline")).to_contain_text("Em andamento")
    expect(editor).to_have_text("Estou verificando o toner")  # what he typed is still there
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    bruno.screenshot(path=SCREENSHOTS / "live-ticket-desktop.png", full_page=True)


def test_the_painel_counts_live(page, agent_user, make_ticket):
    make_ticket("Um")
    browser_login(page, agent_user)
    page.goto("/")
    unassigned = page.locator("#count-unassigned")
    expect(unassigned).to_have_text("1")
    make_ticket("Dois")
    expect(unassigned).to_have_text("2", timeout=LIVE)
    expect(page.locator("#latest-tickets")).to_contain_text("Dois", timeout=LIVE)


def test_the_device_page_follows_a_rename(new_page, agent_user, register_device):
    body, _auth = register_device(hostname="DESKTOP-01")
    watcher = new_page()
    browser_login(watcher, agent_user)
    watcher.goto(f"/dispositivos/{body['machineId']}")
    expect(watcher.locator("#device-head h1")).to_contain_text("DESKTOP-01")
    from app.devices.admin import describe_device
    from app.models import Machine

    describe_device(db.session.get(Machine, body["machineId"]), "Caixa 2", "")
    db.session.commit()
    expect(watcher.locator("#device-head h1")).to_contain_text("Caixa 2", timeout=LIVE)


def test_the_portal_sees_the_public_reply_and_never_the_internal_note(
    new_page, agent_user, collaborator, make_ticket
):
    ticket = make_ticket("Monitor piscando", requester=collaborator)
    assign(ticket, agent_user.id, agent_user)
    db.session.commit()  # the browser's requests see it
    portal = new_page()
    browser_login(portal, collaborator)
    portal.goto(f"/portal/chamados/{ticket.reference}")
    add_comment(ticket, agent_user, "<p>Nota interna: trocar o cabo.</p>", "INTERNAL")
    add_comment(ticket, agent_user, "<p>Vamos trocar o cabo amanhã.</p>", "PUBLIC")
    db.session.commit()  # the browser's requests see it
    timeline = portal.locator("#timeline")
    expect(timeline).to_contain_text("Vamos trocar o cabo amanhã.", timeout=LIVE)
    expect(timeline).not_to_contain_text("Nota interna")
    expect(portal.locator("body")).not_to_contain_text("Nota interna")
