"""agent/notify.py: notify-send, else the tray's notification, else only the log; never an error."""

import logging
import subprocess
from types import SimpleNamespace

from agent.notify import NEW_MESSAGE, Notifier


class Tray:
    def __init__(self, fails=False):
        self.shown, self.fails = [], fails

    def notify(self, message, title):
        if self.fails:
            return False  # a tray backend without notifications
        self.shown.append((title, message))
        return True


def _run(returncode=0, raises=None, calls=None):
    def run(argv, **kwargs):
        if calls is not None:
            calls.append(argv)
        if raises:
            raise raises
        return SimpleNamespace(returncode=returncode)

    return run


def test_notify_send_first():
    calls, tray = [], Tray()
    notifier = Notifier(tray, which=lambda name: "/usr/bin/notify-send", run=_run(calls=calls))
    assert notifier.notify(NEW_MESSAGE, "Ana: oi") == "notify-send"
    assert calls[0][0] == "/usr/bin/notify-send" and calls[0][-2:] == ["Suporte: nova mensagem", "Ana: oi"]
    assert tray.shown == []


def test_the_tray_when_notify_send_fails_or_is_missing():
    tray = Tray()
    failing = Notifier(tray, which=lambda name: "/usr/bin/notify-send", run=_run(returncode=1))
    assert failing.notify(NEW_MESSAGE, "a") == "tray"
    hanging = Notifier(tray, which=lambda name: "/x", run=_run(raises=subprocess.TimeoutExpired("x", 5)))
    assert hanging.notify(NEW_MESSAGE, "b") == "tray"
    missing = Notifier(tray, which=lambda name: None)
    assert missing.notify(NEW_MESSAGE, "c") == "tray"
    assert [message for _, message in tray.shown] == ["a", "b", "c"]


def test_neither_works_and_nothing_fails(caplog):
    caplog.set_level(logging.INFO)
    assert Notifier(Tray(fails=True), which=lambda name: None).notify(NEW_MESSAGE, "d") is None
    assert Notifier(None, which=lambda name: "/x", run=_run(raises=OSError("exec"))).notify("t", "e") is None
    assert "Suporte: nova mensagem — d" in caplog.text
