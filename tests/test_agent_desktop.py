"""agent/desktop.py: what the person sees when the chat listener hears something, the tray's
choices, and the process: backoff while the server is down, a refused token stops it (exit 2)."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import desktop
from agent.browser import CHAT, MY_TICKETS, NEW_TICKET
from agent.notify import NEW_MESSAGE
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "t0k3n" * 9


class Portal:
    def __init__(self):
        self.opened = []

    def open(self, path):
        self.opened.append(path)
        return True

    def close(self):
        pass


class Notifier:
    tray = None

    def __init__(self):
        self.shown = []

    def notify(self, title, message):
        self.shown.append((title, message))


class Listener:
    stopped = False

    def stop(self):
        self.stopped = True


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def part():
    clock = Clock()
    part = desktop.Desktop(
        {"server": "http://srv.test", "token": TOKEN}, Portal(), Notifier(), Listener(), clock=clock
    )
    part.clock_ = clock
    return part


def test_a_chat_started_by_staff_opens_the_chat_window_and_a_notification(part):
    part.chat_started(12, None, already_open=False)
    assert part.portal.opened == [CHAT]
    assert part.notifier.shown == [(NEW_MESSAGE, "Chamado #12: o suporte quer falar com você.")]


def test_a_chat_open_before_log_on_opens_only_with_unread_messages(part):
    part.chat_started(3, {"ticket": 3, "unreadCount": 0}, already_open=True)
    assert part.portal.opened == [] and part.notifier.shown == []
    part.chat_started(4, {"ticket": 4, "unreadCount": 2}, already_open=True)
    assert part.portal.opened == [CHAT]


def test_staff_messages_open_the_window_once_then_notify_at_most_every_10_s(part):
    message = {"body": "Pode   reiniciar " + "a" * 200, "authorName": "Ana", "isFromMachine": False}
    part.staff_message(5, message)
    assert part.portal.opened == [CHAT]
    assert (
        part.notifier.shown[0][1].startswith("Ana: Pode reiniciar aaa")
        and len(part.notifier.shown[0][1]) < 130
    )
    part.staff_message(5, message)
    assert len(part.notifier.shown) == 1  # within 10 s of the last one
    part.clock_.now += 11
    part.staff_message(5, {"body": "", "attachments": [{"id": 1}], "authorName": "Ana"})
    assert part.notifier.shown[-1] == (NEW_MESSAGE, "Ana: enviou um arquivo") and part.portal.opened == [CHAT]
    part.chat_ended(5)
    part.staff_message(5, message)  # a new chat on the same ticket opens a window again
    assert part.portal.opened == [CHAT, CHAT]


def test_a_refused_token_says_so_and_stops(part):
    part.refused("token_revoked", "")
    assert part.exit_code == 2 and part.listener.stopped
    assert part.notifier.shown[0][0] == "Chamados: computador desconectado"


class Process:
    def __init__(self, lines, code):
        self.stdout = io.StringIO("".join(lines))
        self.code = code

    def wait(self):
        return self.code


def test_the_tray_choices(part):
    spawned = []

    def spawn(argv, **kwargs):
        spawned.append((argv, kwargs["cwd"]))
        return Process(["open /portal/chamados/9\n", "lixo\n", "open https://evil.example/\n"], 0)

    part.spawn = spawn
    by_label = {entry.label: entry.action for entry in part.menu()}
    by_label["Meus chamados"]()
    by_label["Falar com o suporte"]()
    part._ticket_dialog()  # what "Abrir chamado" runs on a thread
    assert spawned == [([sys.executable, "-m", "agent", "ticket", "--report"], ROOT)]
    assert part.portal.opened == [MY_TICKETS, CHAT, "/portal/chamados/9"]
    part.spawn = lambda argv, **kwargs: Process([], 1)  # no window could be shown
    part._ticket_dialog()
    assert part.portal.opened[-1] == NEW_TICKET
    by_label["Sair"]()
    assert part.listener.stopped


def _start_desktop(config_path, server):
    config_path.write_text(f'{{"server": "{server}", "token": "{TOKEN}", "machineId": 1}}')
    env = {**os.environ, "CHAMADOS_AGENT_CONFIG": str(config_path), "PATH": "/nonexistent"}
    env.pop("DISPLAY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "desktop"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.process  # starts another process
def test_the_desktop_part_waits_out_a_server_that_is_down_and_stops_on_sigterm(tmp_path):
    process = _start_desktop(tmp_path / "config.json", f"http://127.0.0.1:{free_port()}")
    time.sleep(4)
    assert process.poll() is None  # still running: the server being down is no reason to stop
    process.terminate()
    _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "bandeja indisponível" in err  # no display here: the tray is optional
    assert err.count("nova tentativa em") >= 2 and "encerrado" in err
    assert TOKEN not in err
