"""Drives the "Abrir chamado" window in a process of its own (python -m tests.desktop.drive_ticket_dialog
SCENARIO): Tk keeps its connection to the X display until the process ends, and Xlib ends a
process whose display went away, so each virtual screen gets a fresh process. Prints what the
test checks as one JSON line."""

from __future__ import annotations

import json
import os
import sys
import time
import tkinter as tk

from PIL import Image, ImageGrab

from agent import client
from agent.ticket_dialog import TicketDialog
from agent.tickets import open_ticket


def _pump(root, until, timeout=15):
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise SystemExit("the dialog did not get there")
        root.update()
        time.sleep(0.02)


def _widgets(widget):
    for child in widget.winfo_children():
        yield child
        yield from _widgets(child)


def _text(widget) -> str | None:
    try:
        return str(widget.cget("text"))
    except tk.TclError:
        return None


def _texts(widget) -> list[str]:
    return [text for text in map(_text, _widgets(widget)) if text is not None]


def _shoot(name: str) -> None:
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        ImageGrab.grab(xdisplay=os.environ["DISPLAY"]).save(os.path.join(folder, name))


def send_with_screenshot(server: str, token: str) -> dict:
    root = tk.Tk()
    sent, opened = [], []

    def submit(subject, description, png):
        sent.append(png)
        return open_ticket({"server": server, "token": token}, subject, description, png)

    dialog = TicketDialog(root, Image.new("RGB", (1280, 800), (240, 244, 248)), submit, opened.append)
    result = {"attach_default": dialog.attach.get(), "texts": _texts(root)}
    dialog.send()  # no subject yet
    result["empty_subject"] = str(dialog.status.cget("text"))
    dialog.subject.insert(0, "Tela congelada")
    result["status_after_typing"] = str(dialog.status.cget("text"))
    dialog.description.insert("1.0", "Acontece ao abrir o sistema de caixa.")
    dialog.attach.set(True)
    dialog._attach_changed()
    root.update()
    _shoot("desktop-agent-ticket-dialog.png")
    dialog.send()
    _pump(root, lambda: dialog.answer is not None)
    root.update()
    _shoot("desktop-agent-ticket-opened.png")
    result.update(answer=dialog.answer, opened_texts=_texts(root), png_bytes=len(sent[0] or b""))
    result["png_magic"] = bool(sent[0]) and sent[0].startswith(b"\x89PNG")
    see = next(child for child in _widgets(dialog.frame) if _text(child) == "Ver no portal")
    see.invoke()
    result["opened"] = opened
    return result


def refused() -> dict:
    root = tk.Tk()
    calls = []

    def submit(subject, description, png):
        calls.append(png)
        raise client.ServerError(
            403, "staff_person", "Este dispositivo está vinculado a um membro da equipe."
        )

    dialog = TicketDialog(root, Image.new("RGB", (64, 64)), submit, lambda path: None)
    dialog.subject.insert(0, "Teste")
    dialog.send()
    _pump(root, lambda: "equipe" in str(dialog.status.cget("text")))
    return {
        "screenshots_sent": calls,
        "answer": dialog.answer,
        "status": str(dialog.status.cget("text")),
        "can_send_again": "disabled" not in dialog.send_button.state(),
    }


if __name__ == "__main__":
    scenario = sys.argv[1]
    outcome = send_with_screenshot(*sys.argv[2:]) if scenario == "send" else refused()
    print(json.dumps(outcome))
