"""Tickets opened from the computer ("Abrir chamado" in the desktop agent): the portal's own
ticket opening, for the device's person, linked to the device, with an optional screenshot."""

from __future__ import annotations

import base64
import binascii
from html import escape

from app.devices.sessions import acting_person
from app.devices.tokens import AgentContext
from app.models import Persona, Ticket
from app.services import portal
from app.services.api_input import invalid_field
from app.services.attachments import check_upload
from app.services.errors import DomainError

SCREENSHOT_MAX_BYTES = 768 * 1024  # the agent scales a larger capture down to fit
SCREENSHOT_FIELD = "screenshot.contentBase64"
PNG_ONLY = frozenset({"png"})


def open_ticket_from_device(
    context: AgentContext, subject: str, description: str = "", screenshot: dict | None = None
) -> Ticket:
    """The ticket of the device's person (never staff, never nobody: 403), in "Chamados", with
    the device attached, as the portal opens it in a device session."""
    machine = context.machine
    person = acting_person(machine)
    files = [_screenshot_file(screenshot)] if screenshot else []
    viewer = portal.PortalViewer(person, Persona(machine.persona), machine)
    return portal.open_ticket(viewer, subject, text_to_html(description), files)


def text_to_html(text: str) -> str:
    """The agent's plain text as the paragraphs the rich-text editor writes."""
    lines = (text or "").replace("\r\n", "\n").strip().split("\n")
    return "".join(f"<div>{escape(line) or '<br>'}</div>" for line in lines) if any(lines) else ""


def _screenshot_file(screenshot: dict) -> tuple[str, bytes]:
    """(file name, PNG bytes): base64, at most SCREENSHOT_MAX_BYTES, and a PNG by its content."""
    try:
        data = base64.b64decode(screenshot["contentBase64"], validate=True)
    except (binascii.Error, ValueError):
        raise invalid_field(SCREENSHOT_FIELD, "não é base64") from None
    if len(data) > SCREENSHOT_MAX_BYTES:
        raise DomainError(
            f"A captura de tela excede {SCREENSHOT_MAX_BYTES // 1024} KB.",
            status=413,
            code="file_too_large",
            field=SCREENSHOT_FIELD,
        )
    filename = screenshot.get("filename") or "captura-de-tela.png"
    if not filename.lower().endswith(".png"):
        filename += ".png"
    try:
        check_upload(filename, data, allowed=PNG_ONLY, max_bytes=SCREENSHOT_MAX_BYTES)
    except DomainError as error:  # "não corresponde à extensão", "vazio": about the screenshot
        raise DomainError(
            f"Captura de tela recusada: {error.message}",
            status=422,
            code="invalid_screenshot",
            field=SCREENSHOT_FIELD,
        ) from None
    return filename, data
