"""The "Abrir chamado" window (agent/ticket_dialog.py) on a virtual screen, sending to the live
test server: the screenshot goes only when the person ticks the box; the answer is "Chamado #N
aberto" with "Ver no portal"; a refusal is shown in the window, which stays open. The window
runs in a process of its own (tests/desktop/drive_ticket_dialog.py says why)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from agent import client
from agent.ticket_dialog import error_message
from app.extensions import db
from app.models import Attachment, Ticket
from tests.desktop.conftest import SCREENSHOTS

pytestmark = pytest.mark.process
tkinter = pytest.importorskip(
    "tkinter", reason="this Python has no tkinter (Debian: apt-get install python3-tk)"
)
ROOT = Path(__file__).resolve().parents[2]


def _drive(display, *args):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DISPLAY": display, "SCREENSHOTS": str(SCREENSHOTS)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.desktop.drive_ticket_dialog", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_dialog_sends_the_ticket_with_the_screenshot_only_when_ticked(xvfb, live_server, chat_device):
    setup = chat_device()
    seen = _drive(xvfb, "send", live_server, setup.token)
    assert seen["attach_default"] is False  # the person agrees by ticking it
    assert "Anexar uma captura de tela" in seen["texts"] and "Enviar" in seen["texts"]
    assert seen["empty_subject"] == "Informe o assunto." and seen["status_after_typing"] == ""
    reference = seen["answer"]["ticket"]
    assert f"Chamado #{reference} aberto" in seen["opened_texts"] and "Ver no portal" in seen["opened_texts"]
    assert seen["png_magic"] and seen["opened"] == [f"/portal/chamados/{reference}"]

    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == reference))
    assert ticket.machine_id == setup.machine_id and ticket.subject == "Tela congelada"
    assert "sistema de caixa" in ticket.description_html
    attachment = db.session.scalar(select(Attachment).where(Attachment.ticket_id == ticket.id))
    assert attachment.content_type == "image/png" and attachment.size_bytes == seen["png_bytes"]


def test_without_the_box_ticked_no_screenshot_goes_and_a_refusal_stays_on_screen(xvfb):
    seen = _drive(xvfb, "refused")
    assert seen["screenshots_sent"] == [None] and seen["answer"] is None
    assert "equipe" in seen["status"] and seen["can_send_again"]


def test_what_the_person_reads_when_sending_fails():
    revoked = client.ServerError(401, "token_revoked", "Token revogado: registre o dispositivo novamente.")
    assert "registrá-lo de novo" in error_message(revoked)
    assert error_message(OSError("refused")) == "Servidor inacessível. Verifique a conexão e tente de novo."
    assert error_message(client.ServerError(422, "invalid_field", "Campo inválido: subject.")) == (
        "Campo inválido: subject."
    )
