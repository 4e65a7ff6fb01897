"""Where the agent keeps its token: a per-user config file readable only by its owner."""

import json
import os
from pathlib import Path

from agent import logs


def config_path() -> Path:
    override = os.environ.get("CHAMADOS_AGENT_CONFIG")
    if override:
        return Path(override)
    base = os.environ.get("APPDATA") or os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "chamados-agent" / "config.json"


def load() -> dict:
    path = config_path()
    if not path.exists():
        raise SystemExit(f"Agente não registrado: rode `python -m agent register` ({path} não existe).")
    settings = json.loads(path.read_text())
    logs.hide(settings.get("token"))
    return settings


def save(data: dict) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # Create with 0600 from the start: the token never sits in a world-readable file.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    temporary.replace(path)
    logs.hide(data.get("token"))
    return path
