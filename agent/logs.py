"""The agent's logging: one format for every command, and no token in any line.

The token is a secret of the person's computer: a log file is read by whoever helps with a
problem, pasted in tickets and kept in journals. Every handler formats through
`RedactingFormatter`, which masks the tokens the agent has loaded (`hide`) and anything that
looks like one (`token=…` in a URL, `Bearer …`, `"token": "…"` in JSON), whichever module wrote
the line (the agent, websockets, urllib).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(message)s"
MASK = "***"
_secrets: set[str] = set()
_PATTERNS = (
    re.compile(r"(?i)(token=)[^&\s\"'#]+"),
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)(\"(?:machine)?token\"\s*:\s*\")[^\"]+"),
)


def hide(secret: str | None) -> None:
    """Never write `secret` in a log line from now on (the config's token, once loaded)."""
    if secret and len(secret) >= 8:
        _secrets.add(secret)


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


class RedactingFormatter(logging.Formatter):
    """The usual line (message, arguments, traceback), then every secret masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup(level: int = logging.INFO, log_file: str | Path | None = None, name: str = "agent") -> None:
    """Log to stderr, and to `log_file` too (rotated at 1 MB, 3 kept) when given or, where there
    is no stderr (pythonw on Windows), to `<name>.log` beside the config (one file per command:
    two processes never rotate the same file)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "chamados_agent", False):  # ours from an earlier call; others stay
            root.removeHandler(handler)
    handlers: list[logging.Handler] = []
    if sys.stderr is not None:
        handlers.append(logging.StreamHandler())
    if log_file is None and sys.stderr is None:
        from agent import config

        log_file = config.config_path().parent / f"{name}.log"
    if log_file is not None:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
        )
    for handler in handlers:
        handler.chamados_agent = True
        handler.setFormatter(RedactingFormatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
