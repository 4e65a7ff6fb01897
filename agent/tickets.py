"""Opening a ticket from the computer: the screenshot (taken before the dialog shows, attached
only if the person agrees) and POST /api/machines/tickets."""

from __future__ import annotations

import base64
import io
import logging

from agent import client

log = logging.getLogger("chamados.agent")

# The server takes 768 KB (app/devices/tickets.py) in a body of at most 1.1 MB; base64 adds a
# third, so the capture stays under 700 KB, leaving room for the longest subject and description
# (20 000 characters, up to 6 bytes each as JSON escapes).
SCREENSHOT_MAX_BYTES = 700 * 1024
SCREENSHOT_NAME = "captura-de-tela.png"


def take_screenshot():
    """The whole screen as a Pillow image, or None where it cannot be taken (no display,
    Wayland without a portal, a locked session)."""
    try:
        from PIL import ImageGrab

        return ImageGrab.grab(all_screens=True)
    except Exception as error:
        log.warning("Captura de tela indisponível (%s).", error)
        return None


def png_within(image, max_bytes: int = SCREENSHOT_MAX_BYTES) -> bytes:
    """The image as PNG of at most `max_bytes`, scaled down as needed (a busy 4K screen is
    several MB; text stays readable at half size)."""
    image = image.convert("RGB")
    while True:
        buffer = io.BytesIO()
        image.save(buffer, "PNG", optimize=True)
        data = buffer.getvalue()
        if len(data) <= max_bytes or min(image.size) < 32:
            return data
        scale = max(0.3, min(0.9, (max_bytes / len(data)) ** 0.5 * 0.95))
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))


def open_ticket(
    settings: dict, subject: str, description: str = "", screenshot_png: bytes | None = None
) -> dict:
    """Create the ticket on the server; its answer ({"ticket", "portalPath", ...}).
    Raises client.ServerError (the server's Portuguese message) or OSError (unreachable)."""
    body: dict = {"subject": subject, "description": description}
    if screenshot_png is not None:
        body["screenshot"] = {
            "filename": SCREENSHOT_NAME,
            "contentBase64": base64.b64encode(screenshot_png).decode("ascii"),
        }
    answer = client.request(settings["server"], "/api/machines/tickets", body, token=settings["token"])
    log.info("Chamado #%s aberto%s.", answer.get("ticket"), " com captura de tela" if screenshot_png else "")
    return answer
