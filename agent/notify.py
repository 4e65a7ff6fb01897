"""Desktop notifications: notify-send where it exists (Linux desktops), else the tray icon's own
(Windows, some Linux trays), else only the log. Never fails: a notification is a courtesy, the
chat window is what matters."""

from __future__ import annotations

import logging
import shutil
import subprocess

log = logging.getLogger("chamados.agent")
NEW_MESSAGE = "Suporte: nova mensagem"
APP_NAME = "Chamados"


class Notifier:
    def __init__(self, tray=None, which=shutil.which, run=subprocess.run):
        self.tray = tray  # anything with notify(message, title), or None
        self.which = which
        self.run = run

    def notify(self, title: str, message: str) -> str | None:
        """Show it; returns how ("notify-send", "tray") or None when only the log has it."""
        command = self.which("notify-send")
        if command:
            try:
                result = self.run(
                    [command, "--app-name", APP_NAME, "--icon", "dialog-information", title, message],
                    capture_output=True,
                    timeout=5,
                    check=False,
                )
                if result.returncode == 0:
                    return "notify-send"
            except (OSError, subprocess.SubprocessError):
                pass
        if self.tray is not None:
            try:
                if self.tray.notify(message, title):
                    return "tray"
            except Exception:  # the display went away (X errors): the log still has it
                pass
        log.info("Notificação: %s — %s", title, message)
        return None
