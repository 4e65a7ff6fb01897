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
    from app.devices.usb import set_usb_policy
    from app.models import Machine

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


# --- bad input: a clear answer, never a 500 (app/services/api_input.py) ------------------------

JSON = {"Content-Type": "application/json"}
# A value no message may quote back: every refusal below is checked for it.
MARK = "marcador-7f3a"


def _refusal(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert MARK not in error["message"] and "\x00" not in error["message"]
    return error


def _nested(levels: int, leaf=1):
    """`levels` arrays, one inside the other, around `leaf`."""
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("hostname", MARK + "\x00", "hostname"),
        ("email", MARK + "\x00@paoquente.test", "email"),
        ("companyCode", MARK + "\x00", "companyCode"),
        ("serialNumbers", ["SN-1", MARK + "\x00"], "serialNumbers.1"),
        ("macAddresses", [MARK + "\x00"], "macAddresses.0"),
        ("os", {"name": MARK + "\x00"}, "os.name"),
    ],
)
def test_a_nul_in_a_registration_field_is_422_naming_the_field(api, company, field, value, named):
    """PostgreSQL cannot store (or even compare) text holding NUL: it was a 500 there."""
    body = {"companyCode": company.provisioning_code, "email": "a@paoquente.test", "hostname": "pc"}
    headers = {"X-Provisioning-Secret": PROVISIONING_SECRET}
    response = api.post("/api/machines/register", json={**body, field: value}, headers=headers)
    error = _refusal(response, 422, "invalid_field")
    assert error["field"] == named
    assert error["message"] == f"Campo inválido: {named} (caractere NUL não é aceito)."
    assert_conforms(response, "/api/machines/register")
    assert db.session.scalar(select(func.count()).select_from(MachineToken)) == 0


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"alerts": [{"kind": MARK + "\x00"}]}, "alerts.0.kind"),
        ({"alerts": [{"kind": "cpu_high", "details": {"processo": MARK + "\x00"}}]},
         "alerts.0.details.processo"),
        ({"alerts": [{"kind": "cpu_high", "details": {MARK + "\x00": "x"}}]}, "alerts.0.details"),
        ({"metrics": {"loggedUser": MARK + "\x00"}}, "metrics.loggedUser"),
        ({"inventory": {**sample_inventory(), "os": {"name": MARK + "\x00"}}}, "inventory.os.name"),
        ({"inventory": {**sample_inventory(), "software": [{"name": "ok"}, {"name": MARK + "\x00"}]}},
         "inventory.software.1.name"),
        ({"inventory": {"hardware": {MARK + "\x00": 1}}}, "inventory.hardware"),
    ],
)  # fmt: skip
def test_a_nul_anywhere_in_a_heartbeat_is_422_naming_the_field(api, register_device, payload, named):
    from app.models import MachineAlert

    _body, auth = register_device()
    response = api.post("/api/machines/heartbeat", json=payload, headers=auth)
    error = _refusal(response, 422, "invalid_field")
    assert error["field"] == named and error["field"].split(".")[0] in payload
    assert_conforms(response, "/api/machines/heartbeat")
    assert db.session.scalar(select(func.count()).select_from(InventorySnapshot)) == 0
    assert db.session.scalar(select(func.count()).select_from(MachineAlert)) == 0


def test_a_nul_in_a_gzipped_inventory_is_found_after_inflating(api, register_device):
    _body, auth = register_device()
    inventory = {**sample_inventory(), "hardware": {"model": MARK + "\x00"}}
    response = _gzip_heartbeat(api, auth, {"inventory": inventory})
    assert _refusal(response, 422, "invalid_field")["field"] == "inventory.hardware.model"


def test_an_escaped_backslash_before_u0000_is_no_nul(api, register_device):
    """`"C:\\\\u0000"` is the text C:\\u0000 (a backslash), not a NUL: stored as sent."""
    _body, auth = register_device()
    inventory = {**sample_inventory(), "hardware": {"model": "C:\\u0000"}}
    response = api.post("/api/machines/heartbeat", json={"inventory": inventory}, headers=auth)
    assert response.status_code == 200 and response.get_json()["inventoryStored"] is True


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/machines/register", b'{"hostname": "\xff\xfe"}'),
        ("/api/machines/heartbeat", b'{"metrics": {"loggedUser": "jos\xe9"}}'),  # Latin-1, not UTF-8
        (
            "/api/machines/heartbeat",
            b'{"inventory": {"hardware": {"model": "\xc3"}}}',
        ),  # kept as text, unread
        ("/api/machines/heartbeat", b'{"alerts": [{"kind": "\xed\xa0\x80"}]}'),  # an encoded surrogate
        ("/api/machines/usb-policy/ack", b'{"status": "APPLIED", "message": "\x80"}'),
    ],
)
def test_a_body_that_is_not_utf8_is_400(api, register_device, path, raw):
    _body, auth = register_device()
    headers = {**auth, **JSON, "X-Provisioning-Secret": PROVISIONING_SECRET}
    response = api.post(path, data=raw, headers=headers)
    assert _refusal(response, 400, "invalid_encoding")["message"] == "O corpo não está em UTF-8."
    assert_conforms(response, path)


@pytest.mark.parametrize(
    ("path", "wrap"),
    [
        ("/api/machines/register", lambda deep: deep),
        ("/api/machines/register", lambda deep: b'{"os": ' + deep + b"}"),
        ("/api/machines/heartbeat", lambda deep: deep),
        ("/api/machines/heartbeat", lambda deep: b'{"metrics": {"x": ' + deep + b"}}"),
        ("/api/machines/heartbeat", lambda deep: b'{"alerts": ' + deep + b"}"),
        ("/api/machines/heartbeat", lambda deep: b'{"inventory": {"software": ' + deep + b"}}"),
        ("/api/machines/sessions", lambda deep: deep),
    ],
)
def test_json_nested_50000_deep_is_400(api, register_device, path, wrap):
    """It was a RecursionError (a 500) in msgspec."""
    _body, auth = register_device()
    deep = b"[" * 50_000 + b"]" * 50_000
    headers = {**auth, **JSON, "X-Provisioning-Secret": PROVISIONING_SECRET}
    response = api.post(path, data=wrap(deep), headers=headers)
    error = _refusal(response, 400, "too_deep")
    assert error["message"] == "O corpo aninha listas e objetos em mais de 32 níveis."
    assert_conforms(response, path)


def test_the_depth_limit_is_32_levels_counting_the_body(api, register_device):
    from app.services.api_input import MAX_DEPTH

    _body, auth = register_device()

    def alert_nested(levels):  # body 1, alerts 2, the alert 3, details 4, then `levels` more
        return {"alerts": [{"kind": "cpu_high", "details": {"x": _nested(levels)}}]}

    at_limit = api.post("/api/machines/heartbeat", json=alert_nested(MAX_DEPTH - 4), headers=auth)
    assert at_limit.status_code == 200
    past = api.post("/api/machines/heartbeat", json=alert_nested(MAX_DEPTH - 3), headers=auth)
    _refusal(past, 400, "too_deep")
    # An inventory part is counted from the body too (body 1, inventory 2, the part 3).
    inventory = {**sample_inventory(), "software": _nested(MAX_DEPTH - 2, {"name": "x"})}
    past_inventory = api.post("/api/machines/heartbeat", json={"inventory": inventory}, headers=auth)
    _refusal(past_inventory, 400, "too_deep")
    assert db.session.scalar(select(func.count()).select_from(InventorySnapshot)) == 0
    inventory = {**sample_inventory(), "software": _nested(MAX_DEPTH - 3, {"name": "x"})}
    at_limit = api.post("/api/machines/heartbeat", json={"inventory": inventory}, headers=auth)
    assert at_limit.status_code == 200 and at_limit.get_json()["inventoryStored"] is True
    # Past orjson's own writing limit (255) too: hashing it failed, a 500.
    inventory = {**sample_inventory(), "software": _nested(300)}
    very_deep = api.post("/api/machines/heartbeat", json={"inventory": inventory}, headers=auth)
    _refusal(very_deep, 400, "too_deep")
    assert db.session.scalar(select(func.count()).select_from(InventorySnapshot)) == 1


def test_integers_past_64_bits_are_422_naming_the_field(api, register_device):
    """msgspec reads any integer; a JSON column (written by orjson) cannot hold one past 64 bits."""
    _body, auth = register_device()
    payload = {"alerts": [{"kind": "cpu_high", "details": {"contador": 2**64}}]}
    response = api.post("/api/machines/heartbeat", json=payload, headers=auth)
    assert _refusal(response, 422, "invalid_field")["field"] == "alerts.0.details.contador"
    fine = {"alerts": [{"kind": "cpu_high", "details": {"contador": 2**63 - 1}}]}
    assert api.post("/api/machines/heartbeat", json=fine, headers=auth).status_code == 200


@pytest.mark.parametrize(
    ("path", "payload", "field", "message"),
    [
        ("/api/machines/register", {"hostname": MARK * 40}, "hostname",
         "Campo inválido: hostname (texto longo demais, máximo 255)."),
        ("/api/machines/register", {"hostname": None}, "hostname",
         "Campo inválido: hostname (deve ser texto)."),
        ("/api/machines/register", {"hostname": ""}, "hostname",
         "Campo inválido: hostname (não pode ser vazio)."),
        ("/api/machines/register", {"email": MARK[:2]}, "email",
         "Campo inválido: email (texto curto demais, mínimo 3)."),
        ("/api/machines/register", {"serialNumbers": [MARK] * 17}, "serialNumbers",
         "Campo inválido: serialNumbers (itens demais, máximo 16)."),
        ("/api/machines/register", {"companyCode": MARK}, None, None),  # 404: not a schema error
        ("/api/machines/heartbeat", {"metrics": {"cpuPercent": MARK}}, "metrics.cpuPercent",
         "Campo inválido: metrics.cpuPercent (deve ser número)."),
        ("/api/machines/heartbeat", {"metrics": {"cpuPercent": 101}}, "metrics.cpuPercent",
         "Campo inválido: metrics.cpuPercent (deve ser no máximo 100)."),
        ("/api/machines/heartbeat", {"metrics": {"loggedUser": 5}}, "metrics.loggedUser",
         "Campo inválido: metrics.loggedUser (deve ser texto ou nulo)."),
        ("/api/machines/heartbeat", {"alerts": [{"kind": "x", "severity": MARK}]}, "alerts.0.severity",
         "Campo inválido: alerts.0.severity (deve ser info ou warning ou critical)."),
        ("/api/machines/heartbeat", {"alerts": [{}]}, "alerts.0.kind",
         "Campo inválido: alerts.0.kind (obrigatório)."),
        ("/api/machines/heartbeat", [MARK], None, "Campo inválido: corpo (deve ser objeto)."),
        ("/api/machines/usb-policy/ack", {"status": MARK}, "status",
         "Campo inválido: status (deve ser APPLIED ou FAILED)."),
    ],
)  # fmt: skip
def test_schema_refusals_are_portuguese_name_the_field_and_never_quote_the_value(
    api, company, register_device, path, payload, field, message
):
    _body, auth = register_device()
    base = {"companyCode": company.provisioning_code, "email": "a@paoquente.test", "hostname": "pc"}
    body = {**base, **payload} if path.endswith("register") else payload
    headers = {**auth, "X-Provisioning-Secret": PROVISIONING_SECRET}
    response = api.post(path, json=body, headers=headers)
    if message is None:
        _refusal(response, 404, "company_not_found")
        return
    error = _refusal(response, 422, "invalid_field")
    assert (error.get("field"), error["message"]) == (field, message)
    assert_conforms(response, path)


@pytest.mark.parametrize("method", ["TRACE", "PUT", "PATCH", "DELETE"])
def test_an_unsupported_method_is_405_with_allow(api, method):
    response = api.open("/api/machines/heartbeat", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_every_route_says_what_it_allows_in_a_405(api, app):
    for path, allowed in [
        ("/api/machines/chat/1/messages", "GET, HEAD, OPTIONS, POST"),
        ("/api/machines/session", "GET, HEAD, OPTIONS"),
        ("/api/inventory/ABC", "OPTIONS, POST"),
        ("/login", "GET, HEAD, OPTIONS, POST"),
    ]:
        response = api.open(path, method="TRACE")
        assert (response.status_code, response.headers.get("Allow")) == (405, allowed), path
