"""The person at the computer chats with support in the device-session portal, in a real
browser, without reloading: "Falar com o suporte" appears when support starts the chat,
messages go both ways live, Enter sends and Shift+Enter breaks the line, the unread count,
and "Sessão encerrada" when support ends it. Screenshots at desktop and phone sizes."""

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.conftest import browser_login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


def _shoot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


def test_the_person_at_the_computer_chats_with_support(new_page, live_server, chat_device, agent_user):
    setup = chat_device()
    reference = setup.ticket.reference
    person = new_page()
    errors = []
    person.on("pageerror", lambda error: errors.append(str(error)))
    # The desktop agent opens the portal through the handshake (seed 001).
    person.goto(f"/machines/handshake?token={setup.token}&redirect=/portal")
    expect(person.get_by_role("heading", name="Meus chamados")).to_be_visible()
    entry = person.locator("#portal-chat-entry")
    expect(entry).to_be_empty()

    staff = new_page()
    browser_login(staff, agent_user)
    staff.goto(f"/chamados/{reference}")
    staff_chat = staff.locator("#chat")
    staff_chat.get_by_role("button", name="Iniciar chat").click()
    staff_chat.get_by_label("Mensagem").fill("Olá! Sou do suporte. A impressora mostra algum erro?")
    staff_chat.get_by_role("button", name="Enviar").click()

    # The portal, open all along, offers the chat with its unread count, without a reload.
    link = entry.get_by_role("link", name="Falar com o suporte")
    expect(link).to_be_visible()
    expect(link.locator(".badge")).to_have_text("1")
    link.click()
    expect(person).to_have_url(re.compile(rf"/portal/chamados/{reference}#chat$"))
    chat = person.locator("#chat")
    expect(chat).to_contain_text(f"Você está falando com {agent_user.name}")
    expect(chat.locator(".chat-message.from-agent")).to_contain_text("A impressora mostra algum erro?")
    # Seen, so read: the entry's count goes away.
    expect(entry.locator(".badge")).to_have_count(0)

    # Shift+Enter breaks the line, Enter sends.
    box = chat.locator("#chat-body")
    box.click()
    box.type("Mostra erro 0x1F.")
    box.press("Shift+Enter")
    box.type("Já reiniciei.")
    box.press("Enter")
    mine = chat.locator(".chat-message.from-machine")
    expect(mine).to_contain_text("Já reiniciei.")
    assert mine.locator(".chat-body").inner_text() == "Mostra erro 0x1F.\nJá reiniciei."
    expect(chat.locator("#chat-body")).to_have_value("")
    expect(chat.locator("#chat-body")).to_be_focused()  # keep typing
    expect(staff_chat.locator(".chat-message.from-machine")).to_contain_text("Já reiniciei.")

    # Support answers: it shows up live on the person's page.
    staff_chat.get_by_label("Mensagem").fill("Vou enviar o driver novo.")
    staff_chat.get_by_label("Mensagem").press("Enter")  # Enter sends on the staff side too
    last = chat.locator(".chat-message.from-agent").last
    expect(last).to_contain_text("Vou enviar o driver novo.")
    # A live message's time is in the install's time zone, as the server renders it.
    live_time = last.locator("time").inner_text()
    person.reload()
    assert chat.locator(".chat-message.from-agent").last.locator("time").inner_text() == live_time
    _shoot(person, "portal-chat")

    staff_chat.get_by_role("button", name="Encerrar chat").click()
    expect(chat).to_contain_text("Sessão encerrada")
    expect(chat.locator("#chat-body")).to_have_count(0)
    expect(entry.get_by_role("link", name="Falar com o suporte")).to_have_count(0)
    _shoot(person, "portal-chat-ended")
    assert errors == []
