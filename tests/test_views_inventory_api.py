"""POST /api/inventory: the FusionInventory and GLPI Agent protocols over HTTP, the admin page,
and the real fusioninventory-agent against a live server."""

import base64
import gzip
import logging
import os
import shutil
import subprocess
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from defusedxml import ElementTree
from sqlalchemy import func, select

from app.extensions import db
from app.models import InventorySnapshot, Machine
from tests.conftest import csrf_token_from
from tests.test_services_external_inventory import BILLION_LAUGHS, fixture_bytes

PROLOG = b"<?xml version='1.0' encoding='UTF-8'?><REQUEST><DEVICEID>RECEPCAO-02-2025</DEVICEID><QUERY>PROLOG</QUERY><TOKEN>12345678</TOKEN></REQUEST>"  # noqa: E501
ZLIB = {"Content-Type": "application/x-compress-zlib"}
FUSION_AGENT = shutil.which("fusioninventory-agent")


def post(client, path, body: bytes, headers=None, **kwargs):
    return client.post(path, data=body, headers=headers or ZLIB, **kwargs)


def reply_xml(response):
    data = response.data
    if data[:2] == b"\x78\x9c":
        data = zlib.decompress(data)
    elif data[:3] == b"\x1f\x8b\x08":
        data = gzip.decompress(data)
    return ElementTree.fromstring(data)


def machines():
    return db.session.scalars(select(Machine).order_by(Machine.id)).all()


def snapshots() -> int:
    return db.session.scalar(select(func.count()).select_from(InventorySnapshot))


# --- FusionInventory (XML) --------------------------------------------------------------


@pytest.mark.parametrize(
    "encode, magic",
    [(zlib.compress, b"\x78\x9c"), (gzip.compress, b"\x1f\x8b\x08"), (lambda d: d, b"<?xml")],
    ids=["zlib", "gzip", "plain"],
)
def test_prolog_is_answered_send_in_the_requests_encoding(client, company, encode, magic):
    response = post(client, f"/api/inventory/{company.provisioning_code}", encode(PROLOG))
    assert response.status_code == 200
    assert response.data.startswith(magic)
    reply = reply_xml(response)
    assert reply.tag == "REPLY"
    assert (reply.findtext("PROLOG_FREQ"), reply.findtext("RESPONSE")) == ("24", "SEND")


def test_an_inventory_appears_as_a_device(client, company):
    body = zlib.compress(fixture_bytes("fusion_windows.xml"))
    response = post(client, f"/api/inventory/{company.provisioning_code.lower()}", body)
    assert response.status_code == 200
    assert reply_xml(response).tag == "REPLY"
    (machine,) = machines()
    assert (machine.hostname, machine.company_id, machine.source) == (
        "RECEPCAO-02",
        company.id,
        "FusionInventory",
    )


def test_the_shared_url_takes_the_company_from_the_tag(client, company):
    assert post(client, "/api/inventory", zlib.compress(PROLOG)).status_code == 200
    body = zlib.compress(fixture_bytes("fusion_windows.xml", tag=company.provisioning_code))
    assert post(client, "/api/inventory", body).status_code == 200
    assert [m.company_id for m in machines()] == [company.id]


def test_the_shared_url_without_a_tag_is_refused_in_xml(client, company):
    response = post(client, "/api/inventory", zlib.compress(fixture_bytes("fusion_windows.xml")))
    assert response.status_code == 404
    assert "código da empresa" in reply_xml(response).findtext("ERROR")
    assert machines() == []


def test_an_unknown_code_is_refused_at_the_prolog(client, company):
    response = post(client, "/api/inventory/NAOEXISTE", zlib.compress(PROLOG))
    assert response.status_code == 404
    assert response.data[:2] == b"\x78\x9c"
    assert "Código da empresa não encontrado" in reply_xml(response).findtext("ERROR")


def test_an_identical_inventory_sent_again_stores_nothing(client, company):
    body = zlib.compress(fixture_bytes("fusion_debian.xml"))
    url = f"/api/inventory/{company.provisioning_code}"
    assert post(client, url, body).status_code == 200
    assert post(client, url, body).status_code == 200
    assert (len(machines()), snapshots()) == (1, 1)


# --- GLPI Agent (JSON) -----------------------------------------------------------------


def test_glpi_agent_is_switched_to_json_and_sends_its_inventory(client, company):
    url = f"/api/inventory/{company.provisioning_code}"
    glpi = {**ZLIB, "GLPI-Agent-ID": "3a1f5c2e-0000-4000-8000-000000000001"}
    prolog = post(client, url, zlib.compress(PROLOG), glpi)
    assert orjson.loads(zlib.decompress(prolog.data)) == {"status": "ok", "expiration": 24}

    contact = {"action": "contact", "deviceid": "FINANCEIRO-01-2025", "name": "GLPI-Agent", "tag": ""}
    answer = post(client, url, zlib.compress(orjson.dumps(contact)), glpi)
    assert orjson.loads(zlib.decompress(answer.data))["tasks"] == {"inventory": {}}

    inventory = post(client, url, zlib.compress(fixture_bytes("glpi_inventory.json")), glpi)
    assert orjson.loads(zlib.decompress(inventory.data)) == {"status": "ok", "expiration": 24}
    (machine,) = machines()
    assert (machine.hostname, machine.source) == ("FINANCEIRO-01", "GLPI Agent")


def test_glpi_agent_errors_are_json(client, company):
    plain_json = {"Content-Type": "application/json", "GLPI-Agent-ID": "x"}
    response = post(client, "/api/inventory/NAOEXISTE", fixture_bytes("glpi_inventory.json"), plain_json)
    assert response.status_code == 404
    assert response.get_json()["status"] == "error"
    assert "Código da empresa" in response.get_json()["message"]


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, status",
    [
        (b"<REQUEST><QUERY>INVENTORY</QUERY><CONTENT><HARDWARE>", 400),
        (BILLION_LAUGHS, 400),
        (zlib.compress(b"<" + b"A" * (40 * 1024 * 1024)), 413),
        (b"", 400),
        (zlib.compress(b"<REQUEST><QUERY>SNMPQUERY</QUERY></REQUEST>"), 422),
    ],
    ids=["malformed", "entity-expansion", "zip-bomb", "empty", "unsupported-query"],
)
def test_bad_bodies_get_a_4xx_in_xml_and_are_logged(client, company, caplog, body, status):
    with caplog.at_level(logging.WARNING, logger="app.views.inventory_api"):
        response = post(client, f"/api/inventory/{company.provisioning_code}", body)
    assert response.status_code == status
    assert reply_xml(response).findtext("ERROR")
    assert f"inventory refused: status={status}" in caplog.text
    assert machines() == []


GLPI = {"Content-Type": "application/json", "GLPI-Agent-ID": "3a1f5c2e-0000-4000-8000-000000000001"}
MARK = "marcador-7f3a"  # a value no refusal may quote back


def _nested_xml(levels: int) -> bytes:
    """An INVENTORY whose CONTENT (level 2) holds `levels` more nested elements."""
    return (
        b"<REQUEST><QUERY>INVENTORY</QUERY><DEVICEID>PC-1</DEVICEID><CONTENT>"
        + b"<A>" * levels
        + b"x"
        + b"</A>" * levels
        + b"</CONTENT></REQUEST>"
    )


def test_xml_nested_200000_deep_is_400(client, company):
    """_element_to_dict recursed once per level: a RecursionError, a 500."""
    url = f"/api/inventory/{company.provisioning_code}"
    response = post(client, url, zlib.compress(_nested_xml(200_000)))
    assert response.status_code == 400
    assert reply_xml(response).findtext("ERROR") == "O XML aninha elementos em mais de 32 níveis."
    assert machines() == []


def test_xml_may_nest_32_levels(client, company):
    url = f"/api/inventory/{company.provisioning_code}"
    at_limit = post(client, url, zlib.compress(_nested_xml(30)))  # REQUEST 1, CONTENT 2, 30 more
    assert at_limit.status_code == 200 and len(machines()) == 1
    past = post(client, url, zlib.compress(_nested_xml(31)))
    assert past.status_code == 400 and "32 níveis" in reply_xml(past).findtext("ERROR")


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><REQUEST/>',
    ],
    ids=["entity-expansion", "external-entity"],
)
def test_xml_entities_and_dtds_are_400(client, company, body):
    response = post(client, f"/api/inventory/{company.provisioning_code}", zlib.compress(body))
    assert response.status_code == 400
    assert reply_xml(response).findtext("ERROR") == "XML com DTD ou entidades não é aceito."


def test_a_malformed_xml_is_told_where_in_portuguese(client, company):
    response = post(client, f"/api/inventory/{company.provisioning_code}", b"<REQUEST><QUERY>x</REQUEST>")
    assert response.status_code == 400
    assert reply_xml(response).findtext("ERROR") == "XML malformado (linha 1, coluna 20)."


@pytest.mark.parametrize("path", ["/api/inventory/%00", "/api/inventory/AB%00CD"])
def test_a_nul_in_the_company_code_is_422(client, company, path):
    """PostgreSQL refuses to compare text holding a NUL: the lookup itself was a 500."""
    response = post(client, path, zlib.compress(PROLOG))
    assert response.status_code == 422
    assert "código da empresa" in reply_xml(response).findtext("ERROR")


def test_a_nul_in_a_glpi_inventory_is_422_naming_the_field(client, company):
    document = orjson.loads(fixture_bytes("glpi_inventory.json"))
    document["content"]["hardware"]["name"] = MARK + "\x00"
    url = f"/api/inventory/{company.provisioning_code}"
    response = post(client, url, orjson.dumps(document), GLPI)
    assert response.status_code == 422
    message = response.get_json()["message"]
    assert message == "Campo inválido: content.hardware.name (caractere NUL não é aceito)."
    tagged = post(client, "/api/inventory", orjson.dumps({"action": "contact", "tag": "X\x00"}), GLPI)
    assert tagged.status_code == 422 and MARK not in tagged.get_json()["message"]
    assert machines() == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"action": "inventory", "deviceid": "\xff"}', 400, "O corpo não está em UTF-8."),
        (b"[" * 50_000 + b"]" * 50_000, 400, "O corpo aninha listas e objetos em mais de 32 níveis."),
        (b'{"action": "inventory", "content": ' + b"[" * 40 + b"]" * 40 + b"}", 400,
         "O corpo aninha listas e objetos em mais de 32 níveis."),
        (b'{"action": ', 400, "O corpo não é JSON válido (linha 1, coluna 12)."),
    ],
    ids=["not-utf8", "deep-50000", "deep-40", "truncated"],
)  # fmt: skip
def test_glpi_bodies_that_are_not_json_are_400_in_json(client, company, body, status, message):
    response = post(client, f"/api/inventory/{company.provisioning_code}", body, GLPI)
    assert response.status_code == status
    assert response.get_json() == {"status": "error", "message": message}


def test_an_oversized_body_is_refused_before_it_is_read(app, client, company):
    limit = app.config["INVENTORY_MAX_BODY_BYTES"]
    response = post(client, f"/api/inventory/{company.provisioning_code}", b"<" + b"x" * limit)
    assert response.status_code == 413


def test_flooding_is_answered_429_in_the_agents_format(make_app, company):
    flooded = make_app(INVENTORY_RATE_LIMIT="2 per minute")
    client = flooded.test_client()
    statuses = [
        post(client, f"/api/inventory/{company.provisioning_code}", PROLOG).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    last = post(client, f"/api/inventory/{company.provisioning_code}", PROLOG)
    assert reply_xml(last).findtext("ERROR").startswith("Muitas requisições")


def test_basic_auth_when_the_tenant_sets_it(client, company, tenant):
    from app.devices.external_inventory import set_credentials

    set_credentials(tenant, "inventario", "segredo-forte")
    url = f"/api/inventory/{company.provisioning_code}"
    body = zlib.compress(fixture_bytes("fusion_windows.xml"))

    anonymous = post(client, url, body)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic realm=")
    wrong = base64.b64encode(b"inventario:errada").decode()
    assert post(client, url, body, {**ZLIB, "Authorization": f"Basic {wrong}"}).status_code == 401
    assert machines() == []
    right = base64.b64encode(b"inventario:segredo-forte").decode()
    assert post(client, url, body, {**ZLIB, "Authorization": f"Basic {right}"}).status_code == 200
    assert len(machines()) == 1


# --- pages ---------------------------------------------------------------------------------


def test_the_device_page_shows_the_inventory_and_its_source(admin_client, company):
    post(
        admin_client,
        f"/api/inventory/{company.provisioning_code}",
        zlib.compress(fixture_bytes("fusion_windows.xml")),
    )
    (machine,) = machines()
    page = admin_client.get(f"/dispositivos/{machine.id}").get_data(as_text=True)
    for text in (
        "Windows 11 Pro (26100)",
        "FusionInventory",
        "OptiPlex 7090",
        "8H2K3L4",
        "Mozilla Firefox (x64 pt-BR)",
        "b0:7b:25:11:22:33",
        "C:",
    ):
        assert text in page


def test_admins_see_each_companys_inventory_url(admin_client, company):
    page = admin_client.get("/dispositivos/inventario-externo").get_data(as_text=True)
    assert f"http://localhost/api/inventory/{company.provisioning_code}" in page
    assert "fusioninventory-agent --server" in page


def test_agents_cannot_open_the_inventory_settings(agent_client):
    assert agent_client.get("/dispositivos/inventario-externo").status_code == 403


def test_admins_set_and_clear_the_inventory_password(admin_client, tenant, company):
    token = csrf_token_from(admin_client, "/dispositivos/inventario-externo")
    url = "/dispositivos/inventario-externo/credenciais"
    short = admin_client.post(url, data={"csrf_token": token, "username": "inventario", "password": "curta"})
    assert short.status_code == 422
    assert "pelo menos 8 caracteres" in short.get_data(as_text=True)
    assert 'value="inventario"' in short.get_data(as_text=True)  # what was typed is kept

    saved = admin_client.post(
        url,
        data={"csrf_token": token, "username": "inventario", "password": "segredo-forte"},
        follow_redirects=True,
    )
    assert "--user inventario --password SENHA" in saved.get_data(as_text=True)
    db.session.refresh(tenant)
    assert tenant.inventory_username == "inventario"
    assert "segredo-forte" not in tenant.inventory_password_hash

    admin_client.post(url, data={"csrf_token": token, "action": "clear"})
    db.session.refresh(tenant)
    assert tenant.inventory_username is None


# --- the real agent -------------------------------------------------------------------------


def _run_fusion_agent(server_url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            FUSION_AGENT,
            "--server",
            server_url,
            "--no-category=printer,process,environment",
            "--logger=stderr",
            "--timeout=30",
            *extra,
        ],
        capture_output=True,
        encoding="utf-8",
        errors="replace",  # its debug log may quote the compressed bytes
        timeout=180,
    )


def _last_state_file(server_url: str) -> Path:
    # The agent keeps its state per server URL, in a folder named after it.
    parts = urlsplit(server_url)
    name = f"{parts.scheme}:__{parts.netloc}{parts.path.replace('/', '_')}"
    return Path("/var/lib/fusioninventory-agent") / name / "last_state"


@pytest.fixture
def fusion_agent():
    if FUSION_AGENT is None:
        message = "fusioninventory-agent is not installed (make test installs the Debian package as root)"
        if os.environ.get("REQUIRE_FUSION_AGENT"):
            pytest.fail(message)  # CI: a missing agent is a failure, not a skip
        pytest.skip(message)
    return FUSION_AGENT


def test_the_real_fusioninventory_agent_reports_a_device(fusion_agent, live_server, company):
    server_url = f"{live_server}/api/inventory/{company.provisioning_code}"
    state = _last_state_file(server_url)
    state.unlink(missing_ok=True)

    run = _run_fusion_agent(server_url)
    # The agent exits 0 even when the server refused it: success is its state file and our device.
    assert "No answer from server" not in run.stderr and "[error]" not in run.stderr, run.stderr
    assert state.exists(), run.stderr
    db.session.expire_all()
    (machine,) = machines()
    assert (machine.company_id, machine.source) == (company.id, "FusionInventory")
    snapshot = db.session.scalar(select(InventorySnapshot).where(InventorySnapshot.machine_id == machine.id))
    software = {item["name"] for item in snapshot.inventory["software"]}
    assert "fusioninventory-agent" in software and len(software) > 50
    assert snapshot.inventory["os"]["name"]

    again = _run_fusion_agent(server_url, "--force")
    assert "[error]" not in again.stderr, again.stderr
    db.session.expire_all()
    assert (len(machines()), snapshots()) == (1, 1)  # same computer, nothing new to store


def test_the_real_agent_authenticates_with_user_and_password(fusion_agent, live_server, company, tenant):
    from app.devices.external_inventory import set_credentials

    set_credentials(tenant, "inventario", "segredo-forte")
    db.session.commit()  # as the settings page's request would: the live server sees it
    server_url = f"{live_server}/api/inventory/{company.provisioning_code}"
    refused = _run_fusion_agent(server_url, "--force")
    assert "authentication required, no credentials available" in refused.stderr
    wrong = _run_fusion_agent(server_url, "--force", "--user", "inventario", "--password", "errada")
    assert "authentication required, wrong credentials" in wrong.stderr
    db.session.expire_all()
    assert machines() == []

    accepted = _run_fusion_agent(server_url, "--force", "--user", "inventario", "--password", "segredo-forte")
    assert "[error]" not in accepted.stderr, accepted.stderr
    db.session.expire_all()
    assert len(machines()) == 1
