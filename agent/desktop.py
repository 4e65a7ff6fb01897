"""`python -m agent desktop`: the part of the agent the person sees, started at log-on.

It listens to the chat (agent/listener.py) and, when staff start a chat or write while no chat
window was opened for it, opens the chat in the browser as the person (agent/browser.py: the
device-session handshake to /portal/chat) and shows "Suporte: nova mensagem" (agent/notify.py).
The tray icon (agent/tray.py, optional) offers "Abrir chamado" (agent/ticket_dialog.py, in a
process of its own), "Meus chamados", "Falar com o suporte" and "Sair".

Runs as the person, with the same config (and token) as `run`. Exit codes: 0 after "Sair" or
SIGTERM (log-off), 2 when the server refuses the token (said in the log and in a notification).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time

from agent import config
from agent.browser import CHAT, MY_TICKETS, NEW_TICKET, Portal
from agent.listener import REVOKED, ChatEvents, ChatListener
from agent.notify import NEW_MESSAGE, Notifier
from agent.tray import AGENT_ROOT, Tray, entries, popup_choice

log = logging.getLogger("chamados.agent")

NOTICE_EVERY_SECONDS = 10  # per chat: one notification for a burst of messages
PREVIEW_CHARS = 120


def preview(message: dict) -> str:
    body = " ".join(str(message.get("body") or "").split())
    if not body and message.get("attachments"):
        body = "enviou um arquivo"
    if len(body) > PREVIEW_CHARS:
        body = body[: PREVIEW_CHARS - 1] + "…"
    return f"{message.get('authorName') or 'Suporte'}: {body}"


class Desktop(ChatEvents):
    def __init__(
        self,
        settings: dict,
        portal: Portal | None = None,
        notifier: Notifier | None = None,
        listener: ChatListener | None = None,
        spawn=subprocess.Popen,
        clock=time.monotonic,
    ):
        self.settings = settings
        self.portal = portal or Portal(settings)
        self.notifier = notifier or Notifier()
        self.listener = listener or ChatListener(settings, self)
        self.spawn = spawn
        self.clock = clock
        self.tray: Tray | None = None
        self.windows: set[int] = set()  # chats whose window this process opened
        self.last_notice: dict[int, float] = {}
        self.exit_code = 0
        self._quit = threading.Event()

    # --- what the chat listener hears -------------------------------------------------

    def chat_started(self, ticket: int, session: dict | None, already_open: bool) -> None:
        if already_open and not (session or {}).get("unreadCount"):
            # Open before this log-on and nothing unread: "Falar com o suporte" opens it.
            return
        self._open_chat(ticket, f"Chamado #{ticket}: o suporte quer falar com você.")

    def chat_ended(self, ticket: int) -> None:
        self.windows.discard(ticket)
        self.last_notice.pop(ticket, None)

    def staff_message(self, ticket: int, message: dict) -> None:
        if ticket not in self.windows:
            self._open_chat(ticket, preview(message))
        else:
            self._notice(ticket, preview(message))

    def refused(self, code: str, message: str) -> None:
        self.exit_code = REVOKED
        self.notifier.notify(
            "Chamados: computador desconectado",
            "O servidor recusou o token deste computador. Peça ao suporte para registrá-lo de novo.",
        )
        self.quit()

    def _open_chat(self, ticket: int, text: str) -> None:
        self.windows.add(ticket)
        self.portal.open(CHAT)
        self._notice(ticket, text, force=True)

    def _notice(self, ticket: int, text: str, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.last_notice.get(ticket, -NOTICE_EVERY_SECONDS) < NOTICE_EVERY_SECONDS:
            return
        self.last_notice[ticket] = now
        self.notifier.notify(NEW_MESSAGE, text)

    # --- the tray's choices -------------------------------------------------------------

    def open_ticket_dialog(self) -> None:
        threading.Thread(target=self._ticket_dialog, name="ticket-dialog", daemon=True).start()

    def _ticket_dialog(self) -> None:
        try:
            process = self.spawn(
                [sys.executable, "-m", "agent", "ticket", "--report"],
                cwd=AGENT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                text=True,
            )
        except OSError as error:
            log.warning("Não foi possível abrir a janela do chamado (%s); abrindo o portal.", error)
            self.portal.open(NEW_TICKET)
            return
        for line in process.stdout:
            if line.startswith("open /portal/"):
                self.portal.open(line.removeprefix("open ").strip())
        if process.wait() == 1:  # no window could be shown here: the portal's form instead
            self.portal.open(NEW_TICKET)

    def open_my_tickets(self) -> None:
        self.portal.open(MY_TICKETS)

    def talk(self) -> None:
        self.portal.open(CHAT)

    def popup(self) -> None:
        """The tray's click where the backend has no menus: the menu window's choice."""
        threading.Thread(target=self._popup, name="menu", daemon=True).start()

    def _popup(self) -> None:
        actions = {
            "ticket": self.open_ticket_dialog,
            "portal": self.open_my_tickets,
            "chat": self.talk,
            "quit": self.quit,
        }
        choice = popup_choice()
        if choice:
            actions[choice]()

    def menu(self):
        return entries(self.open_ticket_dialog, self.open_my_tickets, self.talk, self.quit)

    def quit(self) -> None:
        self._quit.set()
        self.listener.stop()
        if self.tray is not None:
            self.tray.stop()

    # --- the process --------------------------------------------------------------------

    def run(self, tray: bool = True) -> int:
        listening = threading.Thread(target=self.listener.run, name="chat", daemon=True)
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGTERM", "SIGINT", "SIGHUP"):
                if hasattr(signal, name):
                    signal.signal(getattr(signal, name), lambda signum, frame: self.quit())
        log.info("Agente da área de trabalho iniciado (servidor %s).", self.settings["server"])
        shown = False
        if tray:
            self.tray = Tray(self.menu(), popup=self.popup)
            self.notifier.tray = self.tray
            shown = self.tray.run(setup=listening.start)  # blocks while the icon is shown
        if listening.ident is None:
            listening.start()
        if not shown:
            while not self._quit.wait(0.5):  # short waits: signals are handled between them
                pass
        self.quit()
        listening.join(timeout=5)
        self.portal.close()
        log.info("Agente da área de trabalho encerrado.")
        return self.exit_code


def main(tray: bool = True) -> int:
    return Desktop(config.load()).run(tray=tray)
