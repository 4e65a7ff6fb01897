"""The reference agent against a live server: register, heartbeats, USB policy, backoff."""

import json
import stat

import pytest
from sqlalchemy import func, select

from agent import client
from agent.__main__ import main
from app.devices.admin import reset_agent
from app.devices.online import is_online
from app.devices.usb import set_usb_policy
from app.extensions import db
from app.models import InventorySnapshot, Machine, MetricSample, UsbPolicy, UsbPolicyStatus
from tests.conftest import PROVISIONING_SECRET


@pytest.fixture
def agent_config(tmp_path, monkeypatch):
    path = tmp_path / "agent" / "config.json"
    monkeypatch.setenv("CHAMADOS_AGENT_CONFIG", str(path))
    return path


def _register(live_server, company, email="joana@paoquente.test"):
    return main(
        [
            "register",
            "--server",
            live_server,
            "--code",
            company.provisioning_code,
            "--email",
            email,
            "--secret",
            PROVISIONING_SECRET,
        ]
    )


def test_register_then_heartbeats_send_the_inventory_only_when_it_changed(live_server, company, agent_config):
    assert _register(live_server, company) == 0
    settings = json.loads(agent_config.read_text())
    assert stat.S_IMODE(agent_config.stat().st_mode) == 0o600 and len(settings["token"]) >= 40
    machine = db.session.get(Machine, settings["machineId"])
    assert machine.company_id == company.id and machine.assigned_user.email == "joana@paoquente.test"

    assert main(["run", "--once"]) == 0
    assert main(["run", "--once"]) == 0
    db.session.expire_all()
    snapshots = db.session.scalars(select(InventorySnapshot)).all()
    assert len(snapshots) == 1  # the second heartbeat did not even send it
    inventory = snapshots[0].inventory
    assert inventory["os"]["name"] and inventory["disks"] and "memoryBytes" in inventory["hardware"]
    # Two beats seconds apart: one metric sample (samples are kept every few minutes).
    assert db.session.scalar(select(func.count()).select_from(MetricSample)) == 1
    assert is_online(db.session.get(Machine, settings["machineId"]).presence.last_seen_at)


def test_usb_policy_is_acknowledged(live_server, company, agent_config, admin_user):
    _register(live_server, company)
    machine_id = json.loads(agent_config.read_text())["machineId"]
    set_usb_policy(db.session.get(Machine, machine_id), "BLOCK", admin_user)
    db.session.commit()  # as the device page's request would: the live server sees it
    assert main(["run", "--once"]) == 0
    db.session.expire_all()
    policy = db.session.get(UsbPolicy, machine_id)
    # On Linux the agent only logs the policy, and says so.
    assert policy.status is UsbPolicyStatus.FAILED and "sem suporte" in policy.message


def test_a_revoked_token_stops_the_agent(live_server, company, agent_config):
    _register(live_server, company)
    reset_agent(db.session.get(Machine, json.loads(agent_config.read_text())["machineId"]))
    db.session.commit()
    assert main(["run", "--once"]) == 2


def test_unreachable_server_is_retried_with_growing_backoff(agent_config):
    from agent import config

    config.save({"server": "http://127.0.0.1:9", "token": "x" * 43, "machineId": 1, "inventoryHash": None})
    waits = []
    assert client.run(sleep=waits.append, max_failures=4) == 1
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2] <= client.MAX_BACKOFF_SECONDS * 1.2


def test_backoff_is_capped():
    delays = client.backoff_delays(base=2, cap=10)
    assert max(next(delays) for _ in range(20)) <= 12
