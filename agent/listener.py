"""The desktop part's ear: one websocket to the server's /ws/chat as the device, so a chat that
staff start is heard at once (the server pushes {"type": "session", "event": "started"}).

The protocol is the server's (app/chat/socket.py): the device authenticates with its token in
the Authorization header; the server answers {"type": "hello", "side": "machine", "sessions":
[...]} with the chats already open, follows every chat started later by itself, and sends staff
messages of the chats we subscribe to. A refused token comes as an error frame and a close with
code 4401: the listener stops and says so (exit code 2, as `run`). Anything else (server down,
restarting, a proxy cutting idle sockets) is retried with capped exponential backoff and jitter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import connect as ws_connect

from agent import __version__
from agent.client import backoff_delays

log = logging.getLogger("chamados.agent")

MAX_BACKOFF_SECONDS = 60
REFUSED_CLOSE_CODE = 4401
# Error frames that mean "this token will never work again": stop instead of retrying.
REFUSED_CODES = frozenset(
    {
        "token_missing",
        "token_invalid",
        "token_revoked",
        "token_expired",
        "machine_disabled",
        "not_authenticated",
    }
)
REVOKED = 2


class Refused(Exception):
    def __init__(self, code: str, message: str = ""):
        super().__init__(code)
        self.code, self.message = code, message


class ChatEvents:
    """What the listener tells the desktop part (every method may be left as is)."""

    def connected(self) -> None: ...

    def chat_started(self, ticket: int, session: dict | None, already_open: bool) -> None: ...

    def chat_ended(self, ticket: int) -> None: ...

    def staff_message(self, ticket: int, message: dict) -> None: ...

    def refused(self, code: str, message: str) -> None: ...


def websocket_url(server: str) -> str:
    server = server.rstrip("/")
    if server.startswith("https://"):
        return "wss://" + server.removeprefix("https://") + "/ws/chat"
    return "ws://" + server.removeprefix("http://") + "/ws/chat"


class ChatListener:
    def __init__(
        self,
        settings: dict,
        events: ChatEvents,
        connect: Callable = ws_connect,
        backoff: Callable = lambda: backoff_delays(base=1.0, cap=MAX_BACKOFF_SECONDS),
        max_failures: int | None = None,
    ):
        self.settings = settings
        self.events = events
        self.connect = connect
        self.backoff = backoff
        self.max_failures = max_failures
        self.chats: set[int] = set()  # tickets with an active chat, as last heard
        self.waits: list[float] = []  # the backoff waits taken (tests and the log read them)
        self._stop = threading.Event()
        self._socket = None
        self._greeted = False  # this connection got the server's hello

    def stop(self) -> None:
        self._stop.set()
        socket = self._socket
        if socket is not None:
            with contextlib.suppress(Exception):  # already closing, or closed
                socket.close()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> int:
        """Listen until stopped (0) or the server refuses the token (2)."""
        delays = self.backoff()
        failures = 0
        while not self._stop.is_set():
            self._greeted = False
            try:
                with self._open() as socket:
                    self._socket = socket
                    if self._stop.is_set():
                        break
                    self._serve(socket)
            except Refused as refused:
                log.error(
                    "O servidor recusou o token deste computador (%s): o chat está desligado. "
                    "Registre o agente de novo.",
                    refused.code,
                )
                self.events.refused(refused.code, refused.message)
                return REVOKED
            except ConnectionClosed as closed:
                received = closed.rcvd
                if received is not None and received.code == REFUSED_CLOSE_CODE:
                    self._stop.set()
                    log.error("O servidor recusou o token deste computador (%s).", received.reason or "4401")
                    self.events.refused(received.reason or "token_invalid", "")
                    return REVOKED
                problem = f"conexão encerrada ({received.code if received else 'sem código'})"
            except InvalidStatus as error:
                problem = f"HTTP {error.response.status_code}"
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, EOFError) as error:
                problem = str(error) or type(error).__name__
            finally:
                self._socket = None
            if self._stop.is_set():
                break
            if self._greeted:  # the server answered as the chat does: a new outage starts over
                delays, failures = self.backoff(), 0
            failures += 1
            if self.max_failures is not None and failures >= self.max_failures:
                return 1
            wait = next(delays)
            self.waits.append(wait)
            log.warning("Chat: servidor inacessível (%s); nova tentativa em %.0f s", problem, wait)
            self._stop.wait(wait)
        return 0

    def _open(self):
        return self.connect(
            websocket_url(self.settings["server"]),
            additional_headers={"Authorization": f"Bearer {self.settings['token']}"},
            user_agent_header=f"chamados-agent/{__version__}",
            open_timeout=10,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
        )

    def _serve(self, socket) -> None:
        while not self._stop.is_set():
            try:
                raw = socket.recv(timeout=1)
            except TimeoutError:
                continue
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            if isinstance(frame, dict):
                self._frame(socket, frame)

    def _frame(self, socket, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "hello":
            self._hello(socket, frame.get("sessions") or [])
        elif kind == "session" and isinstance(frame.get("ticket"), int):
            ticket = frame["ticket"]
            if frame.get("event") == "started" and ticket not in self.chats:
                self.chats.add(ticket)
                log.info("Chat iniciado pelo suporte no chamado #%s.", ticket)
                self.events.chat_started(ticket, None, already_open=False)
            elif frame.get("event") == "ended" and ticket in self.chats:
                self.chats.discard(ticket)
                log.info("Chat do chamado #%s encerrado.", ticket)
                self.events.chat_ended(ticket)
        elif kind == "message" and isinstance(frame.get("message"), dict):
            message = frame["message"]
            if not message.get("isFromMachine") and isinstance(frame.get("ticket"), int):
                self.events.staff_message(frame["ticket"], message)
        elif kind == "error":
            code = str(frame.get("code") or "")
            if code in REFUSED_CODES:
                self._stop.set()
                raise Refused(code, str(frame.get("message") or ""))
            log.warning("Chat: o servidor respondeu %s.", code or "um erro")

    def _hello(self, socket, sessions: list) -> None:
        self._greeted = True
        log.info("Chat: conectado ao servidor (%s chat(s) ativo(s)).", len(sessions))
        self.events.connected()
        active = {
            s["ticket"]: s for s in sessions if isinstance(s, dict) and isinstance(s.get("ticket"), int)
        }
        for ticket in self.chats - active.keys():  # ended while we were away
            self.chats.discard(ticket)
            self.events.chat_ended(ticket)
        for ticket, session in active.items():
            # Chats open before this socket: the server sends their new messages once asked.
            last_id = session.get("lastId") if isinstance(session.get("lastId"), int) else 0
            socket.send(json.dumps({"type": "subscribe", "ticket": ticket, "lastId": last_id}))
            if ticket not in self.chats:
                self.chats.add(ticket)
                self.events.chat_started(ticket, session, already_open=True)
