"""agent/tickets.py: the screenshot made to fit the server's limit, and the ticket sent."""

import io
import os

import pytest
from PIL import Image

from agent import client, tickets
from app.devices.tickets import SCREENSHOT_MAX_BYTES as SERVER_LIMIT


def test_the_agent_stays_under_the_servers_limit_with_room_for_the_text():
    assert (
        tickets.SCREENSHOT_MAX_BYTES * 4 / 3 + 20_200 * 6 + 200 < 1_100_000
    )  # base64 in AGENT_MAX_BODY_BYTES
    assert tickets.SCREENSHOT_MAX_BYTES < SERVER_LIMIT


def test_a_large_capture_is_scaled_down_to_fit():
    noise = Image.frombytes("RGB", (1200, 900), os.urandom(1200 * 900 * 3))  # PNG cannot shrink noise
    data = tickets.png_within(noise, max_bytes=400_000)
    assert data.startswith(b"\x89PNG") and len(data) <= 400_000
    small = Image.new("RGB", (300, 200), "white")
    assert tickets.png_within(small) == tickets.png_within(small)  # already small: kept as is
    with Image.open(io.BytesIO(tickets.png_within(small))) as image:
        assert image.size == (300, 200)


def test_the_ticket_reaches_the_server_and_refusals_come_back_in_portuguese(live_server, chat_device):
    setup = chat_device()
    settings = {"server": live_server, "token": setup.token}
    png = tickets.png_within(Image.new("RGB", (40, 30), "navy"))
    answer = tickets.open_ticket(settings, "Mouse parou", "Desde cedo.", png)
    assert (
        answer["screenshotAttached"] is True
        and answer["portalPath"] == f"/portal/chamados/{answer['ticket']}"
    )
    with pytest.raises(client.ServerError) as refused:
        tickets.open_ticket(settings, "   ")
    assert refused.value.status == 422 and refused.value.message == "Informe o assunto do chamado."


def test_no_display_means_no_screenshot_not_an_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert tickets.take_screenshot() is None
