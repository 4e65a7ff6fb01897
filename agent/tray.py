"""The tray icon (pystray): "Abrir chamado", "Meus chamados", "Falar com o suporte", "Sair".

Optional by design: without a display, a tray or a pystray backend the desktop part runs on
(chat windows and notifications still work) and says so once in the log. pystray is imported
only when the icon starts, since importing it picks a backend and, on Linux, opens the display.

Where the backend draws no menus (pystray's plain X11 one, used when PyGObject is missing), a
click on the icon opens the same four choices in a small window of their own
(`python -m agent menu`, a separate process, so Tk never shares a thread with the tray).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("chamados.agent")

TITLE = "Chamados — suporte"
OPEN_TICKET = "Abrir chamado"
MY_TICKETS = "Meus chamados"
TALK = "Falar com o suporte"
QUIT = "Sair"
# What the menu window prints for each choice (read back by the desktop part).
CHOICES = {OPEN_TICKET: "ticket", MY_TICKETS: "portal", TALK: "chat", QUIT: "quit"}
AGENT_ROOT = Path(__file__).resolve().parent.parent  # where `python -m agent` is found


@dataclass(frozen=True)
class Entry:
    label: str
    action: Callable[[], None]
    default: bool = False  # what a double click (Windows) or a click does


def entries(open_ticket, my_tickets, talk, quit) -> list[Entry]:
    return [
        Entry(OPEN_TICKET, open_ticket),
        Entry(MY_TICKETS, my_tickets),
        Entry(TALK, talk, default=True),
        Entry(QUIT, quit),
    ]


def build_menu(pystray, items: list[Entry], has_menu: bool = True, popup: Callable | None = None):
    """The pystray menu of `items`. Without menus (has_menu False) a click runs `popup`."""

    def run(entry: Entry):
        return lambda icon, item: entry.action()

    menu = []
    for entry in items:
        if entry.label == QUIT:
            menu.append(pystray.Menu.SEPARATOR)
        menu.append(pystray.MenuItem(entry.label, run(entry), default=entry.default and has_menu))
    if not has_menu and popup is not None:
        menu.append(pystray.MenuItem(TITLE, lambda icon, item: popup(), default=True, visible=False))
    return pystray.Menu(*menu)


def icon_image(size: int = 64):
    """A blue disc with a white speech balloon: drawn, so no image file ships with the agent."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, size - 1, size - 1), fill=(29, 78, 216, 255))
    s = size / 64
    draw.rounded_rectangle((14 * s, 16 * s, 50 * s, 40 * s), radius=6 * s, fill="white")
    draw.polygon([(22 * s, 39 * s), (22 * s, 49 * s), (32 * s, 39 * s)], fill="white")
    return image


class _DockingLog(logging.Filter):
    """pystray's X11 backend logs a traceback when no tray is there to dock in: one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "Failed to dock icon":
            record.msg, record.args, record.exc_info, record.levelno = (
                "Nenhuma área de notificação (bandeja) encontrada: o ícone aparece quando houver uma.",
                (),
                None,
                logging.WARNING,
            )
            record.levelname = "WARNING"
        return True


class Tray:
    def __init__(self, items: list[Entry], popup: Callable | None = None):
        self.items = items
        self.popup = popup
        self.icon = None

    def run(self, setup: Callable[[], None]) -> bool:
        """Show the icon and block until `stop` (True); False at once if no tray can be shown."""
        try:
            logging.getLogger("pystray").addFilter(_DockingLog())
            import pystray

            has_menu = bool(getattr(pystray.Icon, "HAS_MENU", True))
            menu = build_menu(pystray, self.items, has_menu, self.popup)
            self.icon = pystray.Icon("chamados-agent", icon_image(), TITLE, menu)
        except Exception as error:  # no display, no backend, Xlib errors...
            log.warning("Ícone na bandeja indisponível (%s); o chat e as notificações seguem.", error)
            return False

        def ready(icon):
            icon.visible = True
            setup()

        try:
            self.icon.run(setup=ready)
        except Exception as error:
            log.warning("O ícone na bandeja parou (%s); o chat e as notificações seguem.", error)
            return False
        return True

    def notify(self, message: str, title: str) -> bool:
        """Show a notification from the tray icon; False when this backend has none."""
        if self.icon is None or not getattr(self.icon, "HAS_NOTIFICATION", False):
            return False
        self.icon.notify(message, title)
        return True

    def stop(self) -> None:
        if self.icon is not None:
            with contextlib.suppress(Exception):  # never started, or already stopped
                self.icon.stop()


def popup_choice(timeout: float = 120) -> str | None:
    """Show the menu window (`python -m agent menu`) and return its choice ("ticket", ...)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "agent", "menu"],
            cwd=AGENT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("Não foi possível abrir o menu (%s).", error)
        return None
    choice = done.stdout.strip()
    return choice if choice in CHOICES.values() else None


def menu_window() -> int:
    """`python -m agent menu`: the four choices in a small window by the pointer; prints the one
    chosen (nothing when closed). Escape or clicking elsewhere closes it."""
    import tkinter as tk

    root = tk.Tk()
    root.title(TITLE)
    root.resizable(False, False)
    root.attributes("-topmost", True)
    chosen: list[str] = []

    def choose(label: str):
        chosen.append(CHOICES[label])
        root.destroy()

    tk.Label(root, text="Chamados", font=("TkDefaultFont", 11, "bold")).pack(padx=12, pady=(10, 4))
    for label in CHOICES:
        tk.Button(root, text=label, width=24, command=lambda label=label: choose(label)).pack(padx=12, pady=2)
    tk.Label(root, text="").pack(pady=2)
    root.bind("<Escape>", lambda event: root.destroy())
    x, y = root.winfo_pointerx(), root.winfo_pointery()
    root.geometry(f"+{max(0, x - 120)}+{max(0, y - 40)}")
    root.mainloop()
    if chosen:
        print(chosen[0], flush=True)
    return 0
