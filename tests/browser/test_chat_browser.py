"""An agent chatting with a (simulated) device in a real browser: messages both ways
without reloading, and the unread badge of the floating widget."""

from pathlib import Path

import orjson
from playwright.sync_api import expect

from tests.conftest import WebSocketClient, browser_login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def _device_says(app, setup, body):
    response = app.test_client().post(
        f"/api/machines/chat/{setup.ticket.reference}/messages", json={"body": body}, headers=setup.auth
    )
    assert response.status_code == 201


def _device_receives(ws, body, attempts=20):
    for _ in range(attempts):
        raw = ws.receive(timeout=1)
        if raw and orjson.loads(raw).get("message", {}).get("body") == body:
            return True
    return False


def test_agent_and_device_chat_and_the_unread_badge_updates(page, app, live_server, agent_user, chat_device):
    setup = chat_device()
    reference = setup.ticket.reference
    browser_login(page, agent_user)
    page.goto(f"/chamados/{reference}")
    chat = page.locator("#chat")
    expect(chat).to_contain_text("recepcao-01 · online")
    chat.get_by_role("button", name="Iniciar chat").click()
    expect(chat.get_by_role("button", name="Encerrar chat")).to_be_visible()

    device = WebSocketClient.connect(
        live_server.replace("http://", "ws://") + "/ws/chat",
        headers={"Authorization": f"Bearer {setup.token}"},
    )
    try:
        device.send(orjson.dumps({"type": "subscribe", "ticket": reference, "lastId": 0}).decode())
        # Agent → device, live.
        chat.get_by_label("Mensagem").fill("Bom dia! Pode reiniciar a impressora?")
        chat.get_by_role("button", name="Enviar").click()
        expect(chat.locator(".chat-message.from-agent")).to_contain_text("Pode reiniciar a impressora?")
        assert _device_receives(device, "Bom dia! Pode reiniciar a impressora?")
    finally:
        device.close()

    # Device → agent, appears without a reload.
    _device_says(app, setup, "Reiniciei, mas continua travada.")
    expect(chat.locator(".chat-message.from-machine")).to_contain_text("continua travada")

    # Elsewhere in the app, the floating widget counts what the agent has not read.
    page.get_by_role("navigation").get_by_role("link", name="Painel").click()
    widget = page.locator("#chat-widget")
    expect(widget).to_contain_text(f"#{reference}")
    _device_says(app, setup, "Alguém aí?")
    _device_says(app, setup, "Apareceu erro 0x1F.")
    expect(widget.locator(f'[data-unread="{reference}"]')).to_have_text("2")

    # Opening the chat reads it: the badge goes back to zero.
    widget.get_by_role("link", name=f"#{reference}").click()
    expect(page.locator("#chat")).to_contain_text("Apareceu erro 0x1F.")
    expect(page.locator(f'#chat-widget [data-unread="{reference}"]')).to_have_text("0")


# Whether the widget's box and the list's last row meet, read in one go (the widget is swapped
# whenever the chats change, so two separate reads could see two different boxes).
WIDGET_COVERS_LAST_ROW = """() => {
  const box = document.querySelector("#chat-widget details").getBoundingClientRect();
  const rows = document.querySelectorAll("#ticket-rows tr");
  const row = rows[rows.length - 1].getBoundingClientRect();
  return !(box.right <= row.left || row.right <= box.left || box.bottom <= row.top || row.bottom <= box.top);
}"""
# Scrolled to the end, whether the page's last content (above main's bottom padding) reaches
# down under the widget.
WIDGET_COVERS_THE_END = """() => {
  const box = document.querySelector("#chat-widget details").getBoundingClientRect();
  const main = document.querySelector("main.content");
  const end = main.getBoundingClientRect().bottom - parseFloat(getComputedStyle(main).paddingBottom);
  return end > box.top;
}"""


def test_the_floating_widget_leaves_the_end_of_a_page_readable(
    page, app, agent_user, chat_device, make_ticket
):
    """Folded to its title when all is read, unfolded when a message waits (on a desktop; a
    phone keeps it folded, its title counting the unread); either way, at the bottom of a full
    list its last row (and the last column) is clear of it, on desktop and phone."""
    setup = chat_device()
    setup.start(agent_user)
    for i in range(30):
        make_ticket(f"Chamado de enchimento {i}")
    browser_login(page, agent_user)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    widget = page.locator("#chat-widget details")
    for state in ("lido", "nao-lido"):
        if state == "nao-lido":
            _device_says(app, setup, "Alguém aí?")
        for name, size in SIZES.items():
            page.set_viewport_size(size)
            page.goto("/chamados")
            expect(widget).to_be_visible()
            if state == "lido":
                expect(widget).not_to_have_attribute("open", "")
                expect(widget.locator("summary")).to_have_text("Chats ativos 1")
            else:  # unfolded on a desktop; on a phone folded, its title saying what waits
                if name == "desktop":
                    expect(widget).to_have_attribute("open", "")
                else:
                    expect(widget).not_to_have_attribute("open", "")
                expect(widget.locator("summary")).to_contain_text("1 não lida")
            page.wait_for_load_state("networkidle")  # the side panel's counts come after the list
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            last_row = page.locator("#ticket-rows tr").last
            expect(last_row).to_be_visible()
            assert not page.evaluate(WIDGET_COVERS_LAST_ROW), (name, state)
            assert not page.evaluate(WIDGET_COVERS_THE_END), (name, state)
            page.screenshot(path=SCREENSHOTS / f"chat-widget-{state}-{name}.png")
