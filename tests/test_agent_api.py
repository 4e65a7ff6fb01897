"""The agent API over HTTP: status codes, JSON errors, and conformance to the OpenAPI document."""

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import InventorySnapshot, MachineToken, MetricSample
from tests.conftest import PROVISIONING_SECRET, assert_conforms, sample_inventory


@pytest.fixture
def api(app):
    return app.test_client()


def test_register_heartbeat_session_and_ack_match_the_openapi_document(api, app, register_device, admin_user):
    from app.models import Machine
    from app.services.machines import set_usb_policy

    body, auth = register_device()
    assert body["persona"] == "collaborator" and body["assignedUser"]["email"] == "joana@paoquente.test"
    hb = api.post("/api/machines/heartbeat", json={"metrics": {"cpuPercent": 12.5}}, headers=auth)
    assert_conforms(hb, "/api/machines/heartbeat")
    session = api.get("/api/machines/session", headers=auth)
    assert session.status_code == 200 and session.get_json()["online"] is True
    assert session.get_json()["machine"]["os"] == "Windows 11 Pro (26100)"
    assert_conforms(session, "/api/machines/session", "get")
    set_usb_policy(db.session.get(Machine, body["machineId"]), "BLOCK", admin_user)
    commands = api.post("/api/machines/heartbeat", json={}, headers=auth).get_json()["commands"]
    assert commands[0]["type"] == "usb_policy" and commands[0]["mode"] == "BLOCK"
    ack = api.post("/api/machines/usb-policy/ack", json={"status": "APPLIED"}, headers=auth)
    assert_conforms(ack, "/api/machines/usb-policy/ack")
    again = api.post("/api/machines/usb-policy/ack", json={"status": "APPLIED"}, headers=auth)
    assert again.status_code == 409
    assert_conforms(again, "/api/machines/usb-policy/ack")


def test_register_responseassert_conforms(api, company):
    response = api.post(
        "/api/machines/register",
        headers={"X-Provisioning-Secret": PROVISIONING_SECRET},
        json={"companyCode": company.provisioning_code, "email": "novo@paoquente.test", "hostname": "pc"},
    )
    assert response.status_code == 201
    assert_conforms(response, "/api/machines/register")
    token = response.get_json()["machineToken"]
    stored = db.session.scalars(select(MachineToken.token_hash)).all()
    assert token not in stored and len(stored[0]) == 64  # only the SHA-256 is kept


@pytest.mark.parametrize(
    ("headers", "payload", "status", "code"),
    [
        ({"X-Provisioning-Secret": "errado"}, {}, 401, "provisioning_secret_invalid"),
        ({}, {}, 401, "provisioning_secret_invalid"),
        (
            {"X-Provisioning-Secret": PROVISIONING_SECRET},
            {"companyCode": "NAOEXISTE"},
            404,
            "company_not_found",
        ),
        ({"X-Provisioning-Secret": PROVISIONING_SECRET}, {"email": "sem-arroba"}, 422, "invalid_email"),
    ],
)
def test_register_errors(api, company, headers, payload, status, code):
    body = {"companyCode": company.provisioning_code, "email": "a@b.test", "hostname": "pc", **payload}
    response = api.post("/api/machines/register", json=body, headers=headers)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert_conforms(response, "/api/machines/register")


def test_malformed_bodies_name_the_field(api, register_device):
    _body, auth = register_device()
    bad_type = api.post("/api/machines/heartbeat", json={"metrics": {"cpuPercent": "alto"}}, headers=auth)
    assert bad_type.status_code == 422 and bad_type.get_json()["error"]["field"] == "metrics.cpuPercent"
    missing = api.post(
        "/api/machines/register",
        json={"email": "x@y.test"},
        headers={"X-Provisioning-Secret": PROVISIONING_SECRET},
    )
    assert missing.status_code == 422 and missing.get_json()["error"]["field"] in ("companyCode", "hostname")
    not_json = api.post(
        "/api/machines/heartbeat", data=b"{nope", headers={**auth, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and not_json.get_json()["error"]["code"] == "invalid_json"
    assert_conforms(bad_type, "/api/machines/heartbeat")


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"metrics": {"cpuPercent": 150}}, "metrics.cpuPercent"),
        ({"metrics": {"cpuPercent": True}}, "metrics.cpuPercent"),
        ({"metrics": {"uptimeSeconds": -1}}, "metrics.uptimeSeconds"),
        ({"metrics": {"uptimeSeconds": 1.5}}, "metrics.uptimeSeconds"),
        ({"metrics": {"uptimeSeconds": 2**31}}, "metrics.uptimeSeconds"),  # the column's range
        ({"inventory": None}, "inventory"),
        ({"metrics": {"loggedUser": "x" * 121}}, "metrics.loggedUser"),
        ({"metrics": {"disks": [{"mount": "C:"}] * 65}}, "metrics.disks"),
        ({"metrics": {"disks": [{"freeBytes": "muito"}]}}, "metrics.disks.0.freeBytes"),
        ({"inventory": ["não", "é", "objeto"]}, "inventory"),
        ({"alerts": [{"severity": "warning"}]}, "alerts.0.kind"),
        ({"alerts": [{"kind": ""}]}, "alerts.0.kind"),
        ({"alerts": [{"kind": "cpu_high", "severity": "grave"}]}, "alerts.0.severity"),
        ({"alerts": [{"kind": "cpu_high"}] * 51}, "alerts"),
    ],
)
def test_every_schema_rule_refuses_a_heartbeat_with_the_field_named(api, register_device, payload, field):
    """Bodies are checked by a compiled schema first and by jsonschema only when that one
    refuses: it must refuse everything jsonschema would, or a bad body would get through."""
    _body, auth = register_device()
    response = api.post("/api/machines/heartbeat", json=payload, headers=auth)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field


def test_oversized_body_is_413(api, app, register_device):
    _body, auth = register_device()
    huge = {"inventory": {"blob": "x" * app.config["AGENT_MAX_BODY_BYTES"]}}
    response = api.post("/api/machines/heartbeat", json=huge, headers=auth)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("header", [None, "Bearer nao-existe", "Basic abc"])
def test_bad_tokens_are_401(api, header):
    headers = {"Authorization": header} if header else {}
    response = api.post("/api/machines/heartbeat", json={}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] in ("token_missing", "token_invalid")


def test_flooding_device_gets_429(api, app, register_device):
    _body, auth = register_device()
    app.config["AGENT_RATE_LIMIT"] = "3 per minute"
    try:
        responses = [api.post("/api/machines/heartbeat", json={}, headers=auth) for _ in range(4)]
    finally:
        app.config["AGENT_RATE_LIMIT"] = "30 per minute"
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[-1].get_json()["error"]["code"] == "rate_limited"
    assert_conforms(responses[-1], "/api/machines/heartbeat")


def test_429_says_when_to_retry_and_chat_calls_have_their_own_limit(api, app, register_device, monkeypatch):
    _body, auth = register_device()
    monkeypatch.setitem(app.config, "AGENT_RATE_LIMIT", "1 per minute")
    assert api.post("/api/machines/heartbeat", json={}, headers=auth).status_code == 200
    refused = api.post("/api/machines/heartbeat", json={}, headers=auth)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    # Chat polling counts against CHAT_RATE_LIMIT, not against the heartbeat's budget.
    assert api.get("/api/machines/chat/sessions", headers=auth).status_code == 200


def _gzip_heartbeat(api, auth, payload: dict, encoding="gzip"):
    import gzip
    import json
    import zlib

    raw = json.dumps(payload).encode()
    data = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    return api.post(
        "/api/machines/heartbeat",
        data=data,
        headers={**auth, "Content-Type": "application/json", "Content-Encoding": encoding},
    )


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_heartbeats_are_accepted(api, register_device, encoding):
    _body, auth = register_device()
    response = _gzip_heartbeat(api, auth, {"inventory": sample_inventory()}, encoding)
    assert response.status_code == 200 and response.get_json()["inventoryStored"] is True
    again = _gzip_heartbeat(api, auth, {"inventory": sample_inventory()}, encoding)
    assert again.get_json()["inventoryStored"] is False
    assert db.session.scalar(select(func.count()).select_from(InventorySnapshot)) == 1


def test_bad_compression_is_refused_with_a_clear_error(api, app, register_device, monkeypatch):
    import gzip

    _body, auth = register_device()
    corrupt = api.post(
        "/api/machines/heartbeat",
        data=b"\x1f\x8b\x08\x00not gzip at all",
        headers={**auth, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert corrupt.status_code == 400 and corrupt.get_json()["error"]["code"] == "bad_compression"
    unknown = api.post(
        "/api/machines/heartbeat",
        data=b"{}",
        headers={**auth, "Content-Type": "application/json", "Content-Encoding": "br"},
    )
    assert unknown.status_code == 415 and unknown.get_json()["error"]["code"] == "unsupported_encoding"
    # A small bomb: 40 KB on the wire, 4 MB once inflated; the limit is on the inflated size.
    monkeypatch.setitem(app.config, "AGENT_MAX_BODY_BYTES", 1024 * 1024)
    bomb = gzip.compress(b'{"inventory": {"blob": "' + b"x" * 4 * 1024 * 1024 + b'"}}')
    assert len(bomb) < 64 * 1024
    too_big = api.post(
        "/api/machines/heartbeat",
        data=bomb,
        headers={**auth, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "payload_too_large"
    for response in (corrupt, unknown, too_big):
        assert_conforms(response, "/api/machines/heartbeat")


def test_identical_heartbeats_write_no_inventory(api, register_device):
    _body, auth = register_device()
    inventory = sample_inventory()
    first = api.post(
        "/api/machines/heartbeat", json={"inventory": inventory, "metrics": {"cpuPercent": 5}}, headers=auth
    )
    assert first.get_json()["inventoryStored"] is True
    for _ in range(5):
        again = api.post(
            "/api/machines/heartbeat",
            json={"inventory": dict(reversed(list(inventory.items())))},
            headers=auth,
        )
        assert again.get_json()["inventoryStored"] is False  # same content, other key order
    changed = api.post(
        "/api/machines/heartbeat", json={"inventory": sample_inventory(software=("Firefox",))}, headers=auth
    )
    assert changed.get_json()["inventoryStored"] is True
    assert db.session.scalar(select(func.count()).select_from(InventorySnapshot)) == 2
    assert db.session.scalar(select(func.count()).select_from(MetricSample)) == 1


def test_openapi_document_is_served_and_describes_every_agent_route(api, app):
    document = api.get("/api/machines/openapi.json").get_json()
    assert document["openapi"].startswith("3.")

    def shape(path):  # "/chat/<int:reference>" and "/chat/{ticket}" are the same route
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    served = {
        (shape(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/machines/") and not rule.rule.endswith("openapi.json")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (shape(path), method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert served == documented
    assert ("/api/machines/chat/{}/messages", "post") in documented


def test_removing_a_device_needs_its_token_and_the_provisioning_secret(client, register_device, make_ticket):
    from app.models import Machine

    body, auth = register_device()
    refused = client.delete("/api/machines/self", headers=auth)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "provisioning_secret_invalid"

    make_ticket(machine_id=body["machineId"])  # a device with history is never removed this way
    kept = client.delete("/api/machines/self", headers={**auth, "X-Provisioning-Secret": PROVISIONING_SECRET})
    assert kept.status_code == 409
    assert_conforms(kept, "/api/machines/self", "delete")
    assert db.session.get(Machine, body["machineId"]) is not None


def test_a_throwaway_device_is_removed_with_the_person_created_for_it(client, register_device):
    from app.models import Machine, MachinePresence, MachineToken, User

    _, auth = register_device(email="descartavel@paoquente.test")
    response = client.delete(
        "/api/machines/self", headers={**auth, "X-Provisioning-Secret": PROVISIONING_SECRET}
    )
    assert response.status_code == 200
    assert_conforms(response, "/api/machines/self", "delete")
    assert response.get_json() == {"removed": True, "personRemoved": True}
    db.session.expire_all()
    for model in (Machine, MachinePresence, MachineToken):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0
    assert db.session.scalar(select(User).where(User.email == "descartavel@paoquente.test")) is None
    assert client.post("/api/machines/heartbeat", json={}, headers=auth).status_code == 401
