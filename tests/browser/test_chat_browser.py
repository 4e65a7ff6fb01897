"""An agent chatting with a (simulated) device in a real browser: messages both ways
without reloading, and the unread badge of the floating widget."""

import orjson
from playwright.sync_api import expect

from tests.conftest import WebSocketClient, browser_login


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
