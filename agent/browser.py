"""Opening the portal in a browser as the computer's person, through the device handshake.

The handshake address carries the device token (GET /machines/handshake?token=…&redirect=…),
and a browser's command line is no place for it: any local user sees it in `ps`, Chromium
shows it on chrome://version, and it stays there as long as the window is open. So the
browser is given a one-use address on this computer instead (http://127.0.0.1:<port>/abrir/<random>),
served by `OneUseRedirects`, which answers it once, within two minutes, with a redirect to the
handshake. Neither address is ever logged.

The browser: the command in CHAMADOS_AGENT_BROWSER or the config's "browser" key, where "%s"
stands for the address (e.g. `chromium --app=%s` for a window without tabs or address bar),
else the system's default browser (Python's webbrowser).
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

log = logging.getLogger("chamados.agent")

CHAT = "/portal/chat"
MY_TICKETS = "/portal"
NEW_TICKET = "/portal/chamados/novo"
HANDSHAKE_PATH = "/machines/handshake"
REDIRECT_TTL_SECONDS = 120
PAGE_NAMES = {CHAT: "chat com o suporte", MY_TICKETS: "meus chamados", NEW_TICKET: "abrir chamado"}


def handshake_url(server: str, token: str, redirect: str) -> str:
    """The device-session handshake that lands on `redirect` (a path the server allows)."""
    return f"{server.rstrip('/')}{HANDSHAKE_PATH}?{urlencode({'token': token, 'redirect': redirect})}"


def describe(redirect: str) -> str:
    """What a log line may say about a destination: its name or path, never the address."""
    return PAGE_NAMES.get(redirect, redirect)


class OneUseRedirects:
    """A tiny HTTP server on 127.0.0.1 that turns each random path, once, into a redirect."""

    def __init__(self, ttl: float = REDIRECT_TTL_SECONDS):
        self.ttl = ttl
        self._targets: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._served = threading.Condition(self._lock)
        redirects = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                target = redirects._take(self.path.removeprefix("/abrir/"))
                if target is None:
                    body = "Este link já foi usado ou expirou: use o ícone do Chamados de novo.".encode()
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):  # the path is a secret for two minutes
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="redirects", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def add(self, target: str) -> str:
        """A local address that redirects to `target` once, for the next `ttl` seconds."""
        key = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._targets = {k: v for k, v in self._targets.items() if v[1] > now}
            self._targets[key] = (target, now + self.ttl)
        return f"http://127.0.0.1:{self.port}/abrir/{key}"

    def _take(self, key: str) -> str | None:
        with self._lock:
            target, expires = self._targets.pop(key, (None, 0.0))
            self._served.notify_all()
            return target if target is not None and expires > time.monotonic() else None

    def wait_until_served(self, timeout: float) -> bool:
        """True once no address waits to be opened (a command that exits right after opening one)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._targets and time.monotonic() < deadline:
                self._served.wait(max(0.0, deadline - time.monotonic()))
            return not self._targets

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def browser_command(settings: dict) -> str | None:
    return os.environ.get("CHAMADOS_AGENT_BROWSER") or settings.get("browser") or None


def command_line(command: str, url: str, posix: bool = sys.platform != "win32") -> list[str]:
    """The browser command as arguments, with "%s" replaced by the address (added last if absent).
    On Windows backslashes stay as they are and a quoted path loses its quotes."""
    args = shlex.split(command, posix=posix)
    if not posix:
        args = [arg[1:-1] if len(arg) > 1 and arg[0] == arg[-1] == '"' else arg for arg in args]
    if any("%s" in arg for arg in args):
        return [arg.replace("%s", url) for arg in args]
    return [*args, url]


class Portal:
    """Opens portal pages as the device's person: handshake → one-use local address → browser."""

    def __init__(self, settings: dict, redirects: OneUseRedirects | None = None, popen=subprocess.Popen):
        self.settings = settings
        self.redirects = redirects or OneUseRedirects()
        self.popen = popen

    def open(self, redirect: str) -> bool:
        """Open `redirect` (a portal path); False if no browser could be started."""
        target = handshake_url(self.settings["server"], self.settings["token"], redirect)
        url = self.redirects.add(target)
        command = browser_command(self.settings)
        if command:
            try:
                self.popen(
                    command_line(command, url),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except (OSError, ValueError) as error:
                log.warning("Não foi possível abrir o navegador configurado (%s); usando o padrão.", error)
            else:
                log.info("Abrindo %s no navegador.", describe(redirect))
                return True
        if webbrowser.open(url):
            log.info("Abrindo %s no navegador padrão.", describe(redirect))
            return True
        log.error("Nenhum navegador encontrado para abrir %s.", describe(redirect))
        return False

    def close(self) -> None:
        self.redirects.close()
