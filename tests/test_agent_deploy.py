"""deploy/: the systemd units and the autostart entry start the agent from where README installs
it (~/.local/share/chamados-agent), and agent/requirements.txt pins what the server pins."""

import configparser
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;]+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def test_the_agent_pins_the_servers_versions():
    agent, server = _pins(ROOT / "agent" / "requirements.txt"), _pins(ROOT / "requirements.txt")
    assert set(agent) == {"psutil", "websockets", "pystray", "pillow", "python-xlib"}
    assert {name: server.get(name) for name in agent} == agent


def test_the_units_run_the_agent_as_the_person_and_do_not_loop_on_a_refused_token():
    user = _ini(DEPLOY / "chamados-agent.service")
    assert user["Service"]["ExecStart"] == "%h/.local/share/chamados-agent/venv/bin/python -m agent run"
    assert user["Install"]["WantedBy"] == "default.target" and "User" not in user["Service"]
    system = _ini(DEPLOY / "chamados-agent@.service")
    assert system["Service"]["User"] == "%i" and system["Install"]["WantedBy"] == "multi-user.target"
    for unit in (user, system):
        assert unit["Service"]["Restart"] == "on-failure"
        assert unit["Service"]["RestartPreventExitStatus"] == "2"


def _installed_home(tmp_path) -> Path:
    """A home with the agent where README puts it (links to this checkout and its venv)."""
    home = tmp_path / "home"
    place = home / ".local" / "share" / "chamados-agent"
    place.mkdir(parents=True)
    (place / "agent").symlink_to(ROOT / "agent")
    (place / "venv").symlink_to(ROOT / ".venv")
    return home


def _run(command: list[str], home: Path):
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.process  # starts another process
def test_the_commands_start_the_agent(tmp_path):
    home = _installed_home(tmp_path)
    unit = _ini(DEPLOY / "chamados-agent.service")["Service"]
    command = shlex.split(unit["ExecStart"].replace("%h", str(home)))
    ran = subprocess.run(  # as systemd starts it: in WorkingDirectory
        command, cwd=unit["WorkingDirectory"].replace("%h", str(home)), env={"HOME": str(home)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.returncode == 1 and "Agente não registrado" in ran.stderr

    system = shlex.split(_ini(DEPLOY / "chamados-agent@.service")["Service"]["ExecStart"])
    ran = _run(system, home)
    assert ran.returncode == 1 and "Agente não registrado" in ran.stderr

    entry = _ini(DEPLOY / "chamados-agent-desktop.desktop")["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    ran = _run(shlex.split(entry["Exec"]), home)
    assert ran.returncode == 1 and "Agente não registrado" in ran.stderr
    assert (home / ".local" / "state" / "chamados-agent" / "desktop.log").exists()
