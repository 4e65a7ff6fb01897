"""agent/logs.py: no token in any log line, whoever writes it; and the captured output of real
runs of the agent (register, heartbeats, a revoked token, the desktop part) holds no token."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import logs
from app.devices.admin import reset_agent
from app.extensions import db
from app.models import Machine
from tests.conftest import PROVISIONING_SECRET

ROOT = Path(__file__).resolve().parent.parent


def test_known_tokens_and_token_shapes_are_masked():
    logs.hide("segredo-do-computador-123")
    lines = [
        "falhou com segredo-do-computador-123 no meio",
        "GET http://srv/machines/handshake?token=abcDEF123_-x&redirect=/portal",
        "Authorization: Bearer abc.def-123",
        '{"machineToken": "zzz-top-secret", "token":"yyy"}',
    ]
    masked = [logs.redact(line) for line in lines]
    assert masked == [
        "falhou com *** no meio",
        "GET http://srv/machines/handshake?token=***&redirect=/portal",
        "Authorization: Bearer ***",
        '{"machineToken": "***", "token":"***"}',
    ]


def test_every_handler_masks_even_tracebacks_and_other_modules(tmp_path, capfd):
    log_file = tmp_path / "agent.log"
    logs.setup(logging.INFO, log_file)
    try:
        logs.hide("tok-" + "9" * 40)
        try:
            raise RuntimeError("tok-" + "9" * 40)
        except RuntimeError:
            logging.getLogger("websockets.client").exception("erro com %s", "Bearer tok-" + "9" * 40)
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "chamados_agent", False):
                logging.getLogger().removeHandler(handler)
                handler.close()
    written = log_file.read_text() + capfd.readouterr().err
    assert "9" * 40 not in written and written.count("***") >= 4


def _agent(*args, env, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.process  # starts another process
def test_the_output_of_real_runs_holds_no_token(live_server, company, tmp_path):
    config = tmp_path / "config.json"
    env = {**os.environ, "CHAMADOS_AGENT_CONFIG": str(config)}
    env.pop("DISPLAY", None)
    register = _agent(
        "register", "--server", live_server, "--code", company.provisioning_code,
        "--email", "joana@paoquente.test", "--secret", PROVISIONING_SECRET, env=env,
    )  # fmt: skip
    assert register.returncode == 0, register.stderr
    settings = json.loads(config.read_text())
    token = settings["token"]
    beat = _agent("run", "--once", env=env)
    assert beat.returncode == 0, beat.stderr

    reset_agent(db.session.get(Machine, settings["machineId"]))
    db.session.commit()
    refused = _agent("run", "--once", env=env)
    assert refused.returncode == 2 and "recusou o token" in refused.stderr
    desktop = _agent("desktop", "--no-tray", env={**env, "PATH": "/nonexistent"}, timeout=30)
    assert desktop.returncode == 2 and "recusou o token" in desktop.stderr

    output = "".join(p.stdout + p.stderr for p in (register, beat, refused, desktop))
    assert "Registrado como dispositivo" in output
    assert token not in output and token[:16] not in output
