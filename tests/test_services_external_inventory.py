"""FusionInventory / GLPI Agent inventories: parsing, safety limits, normalisation, matching."""

import gzip
import zlib
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from app.devices import external_inventory as service
from app.devices.inventory import diff_inventories, latest_inventory
from app.devices.read_models import format_os_version
from app.extensions import db
from app.models import Company, InventorySnapshot, Machine, MachineIdentifier, MachinePresence
from app.services import tenancy
from app.services.errors import DomainError

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"


def fixture_bytes(name: str, tag: str = "") -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"TAG-PLACEHOLDER", tag.encode())


def message(name: str, tag: str = "") -> service.Message:
    return service.parse_message(fixture_bytes(name, tag))


def snapshot_count(machine_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(InventorySnapshot).where(InventorySnapshot.machine_id == machine_id)
    )


def with_extra_software(xml: bytes, name: str) -> bytes:
    extra = f"<SOFTWARES><NAME>{name}</NAME><VERSION>1.0</VERSION></SOFTWARES></CONTENT>".encode()
    return xml.replace(b"</CONTENT>", extra, 1)


# --- bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode, compression",
    [(zlib.compress, "zlib"), (gzip.compress, "gzip"), (lambda data: data, "none")],
)
def test_bodies_are_recognised_by_their_bytes(app, encode, compression):
    xml = fixture_bytes("fusion_debian.xml")
    body = service.decode_body(encode(xml))
    assert body.compression == compression
    assert body.data == xml


def test_replies_use_the_compression_the_agent_sniffs(app):
    assert service.encode_reply(b"<REPLY/>", "zlib")[:2] == b"\x78\x9c"  # level 9 (78 DA) is refused
    assert service.encode_reply(b"<REPLY/>", "gzip")[:3] == b"\x1f\x8b\x08"
    assert service.encode_reply(b"<REPLY/>", "none") == b"<REPLY/>"


@pytest.mark.parametrize("compress", [zlib.compress, gzip.compress])
def test_a_compression_bomb_is_refused_without_inflating_it(app, compress):
    bomb = compress(b"<" + b"A" * (64 * 1024 * 1024))  # 64 MB of XML in ~64 KB
    assert len(bomb) < 200_000
    with pytest.raises(DomainError) as refused:
        service.decode_body(bomb)
    assert refused.value.status == 413


def test_a_plain_body_over_the_decoded_limit_is_refused(app):
    app.config["INVENTORY_MAX_DECODED_BYTES"], saved = 50_000, app.config["INVENTORY_MAX_DECODED_BYTES"]
    try:
        with pytest.raises(DomainError) as refused:
            service.decode_body(b"<" * 50_001)
    finally:
        app.config["INVENTORY_MAX_DECODED_BYTES"] = saved
    assert refused.value.status == 413


def test_a_broken_zlib_stream_is_a_client_error(app):
    with pytest.raises(DomainError) as refused:
        service.decode_body(zlib.compress(b"<REQUEST/>" * 100)[:-20] + b"\x00" * 20)
    assert (refused.value.status, refused.value.code) == (400, "bad_compression")


# --- parsing -------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<REQUEST><QUERY>INVENTORY</QUERY><CONTENT><HARDWARE><NAME>&lol3;</NAME></HARDWARE></CONTENT></REQUEST>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>
<REQUEST><QUERY>INVENTORY</QUERY><CONTENT><HARDWARE><NAME>&passwd;</NAME></HARDWARE></CONTENT></REQUEST>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entity-expansion", "external"])
def test_entities_and_dtds_are_refused(app, body):
    with pytest.raises(DomainError) as refused:
        service.parse_message(body)
    assert (refused.value.status, refused.value.code) == (400, "xml_forbidden")


@pytest.mark.parametrize(
    "body, code",
    [
        (b"<REQUEST><QUERY>INVENTORY</QUERY><CONTENT>", "xml_malformed"),
        (b"<REPLY><QUERY>PROLOG</QUERY></REPLY>", "xml_malformed"),
        (b"<REQUEST><DEVICEID>x</DEVICEID></REQUEST>", "query_missing"),
        (b'{"action": "inventory", "content": [1, 2]}', "content_invalid"),
        (b'{"deviceid": "x"}', "action_missing"),
        (b"[1, 2]", "json_malformed"),
        (b'{"action": ', "json_malformed"),
        (b"hello", "unknown_format"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(app, body, code):
    with pytest.raises(DomainError) as refused:
        service.parse_message(body)
    assert refused.value.code == code
    assert 400 <= refused.value.status < 500


def test_prolog_and_tag_are_read(app):
    prolog = service.parse_message(
        b"<?xml version='1.0'?><REQUEST><DEVICEID>pc-2025</DEVICEID><QUERY>PROLOG</QUERY>"
        b"<TOKEN>12345678</TOKEN></REQUEST>"
    )
    assert (prolog.protocol, prolog.action, prolog.deviceid) == ("xml", "prolog", "pc-2025")
    assert message("fusion_windows.xml", tag="4PCX4BRNY653").tag == "4PCX4BRNY653"
    assert message("glpi_inventory.json", tag="SZZVUX7JVNCN").tag == "SZZVUX7JVNCN"


# --- normalisation -------------------------------------------------------------------


def test_a_real_fusioninventory_debian_inventory_is_normalised(app):
    data = service.normalise(message("fusion_debian.xml"))
    assert data.hostname == "debian-ws"
    assert format_os_version(data.os["name"], data.os["version"], data.os["build"]) == (
        "Debian GNU/Linux 12 (bookworm)"
    )
    assert data.inventory["os"]["arch"] == "x86_64"
    assert [d["mount"] for d in data.inventory["disks"]] == ["/"]
    assert data.inventory["disks"][0]["totalBytes"] == 258019 * 1024 * 1024
    assert len(data.inventory["software"]) == 25
    assert {"name": "adduser", "version": "3.134", "publisher": "Debian"} in data.inventory["software"]
    eth0 = next(n for n in data.inventory["network"] if n["name"] == "eth0")
    # One interface, even though the agent repeats it per address; loopback left out.
    assert eth0 == {"name": "eth0", "mac": "02:fc:00:00:00:01", "ipv4": ["192.0.2.2"]}
    assert "lo" not in [n["name"] for n in data.inventory["network"]]
    # Virtual interfaces (random MACs) do not identify the computer.
    assert data.identifiers == {"deviceid": ["debian-ws-2026-11-22-04-27-30"], "mac": ["02:fc:00:00:00:01"]}


def test_a_windows_inventory_is_normalised(app):
    data = service.normalise(message("fusion_windows.xml"))
    assert (
        format_os_version(data.os["name"], data.os["version"], data.os["build"]) == "Windows 11 Pro (26100)"
    )
    hardware = data.inventory["hardware"]
    assert hardware["cpu"] == "Intel(R) Core(TM) i5-10500 CPU @ 3.10GHz"
    assert (hardware["cores"], hardware["memoryBytes"]) == (12, 16163 * 1024 * 1024)
    assert (hardware["manufacturer"], hardware["model"]) == ("Dell Inc.", "OptiPlex 7090")
    assert [d["mount"] for d in data.inventory["disks"]] == ["C:", "D:"]
    assert data.inventory["disks"][0]["freeBytes"] == 120318 * 1024 * 1024
    assert data.identifiers == {
        "deviceid": ["RECEPCAO-02-2025-02-03-10-15-00"],
        "uuid": ["4C4C4544-0048-3210-804B-B8C04F334C34"],
        "serial": ["8H2K3L4"],
        "mac": ["b0:7b:25:11:22:33"],
    }


def test_a_glpi_agent_json_inventory_is_normalised(app):
    parsed = message("glpi_inventory.json")
    data = service.normalise(parsed)
    assert service.source_of(parsed, glpi_header=False) == "GLPI Agent"
    assert (
        format_os_version(data.os["name"], data.os["version"], data.os["build"]) == "Windows 11 Pro (22631)"
    )
    assert data.hostname == "FINANCEIRO-01"
    assert [s["name"] for s in data.inventory["software"]] == ["Adobe Acrobat (64-bit)", "Microsoft Edge"]
    assert data.identifiers["serial"] == ["PF4XYZ12"]


# --- ingestion -----------------------------------------------------------------------


def test_an_inventory_creates_the_device_and_marks_it_seen(app, company):
    result = service.ingest(company, message("fusion_windows.xml"), service.SOURCE_FUSION)
    machine = db.session.get(Machine, result.machine.id)
    assert (result.created, result.inventory_stored) == (True, True)
    assert (machine.hostname, machine.company_id, machine.source) == (
        "RECEPCAO-02",
        company.id,
        "FusionInventory",
    )
    assert (
        format_os_version(machine.os_name, machine.os_version, machine.os_build) == "Windows 11 Pro (26100)"
    )
    assert db.session.get(MachinePresence, machine.id).last_seen_at is not None
    kinds = db.session.scalars(
        select(MachineIdentifier.kind).where(MachineIdentifier.machine_id == machine.id)
    )
    assert sorted(kinds) == ["deviceid", "mac", "serial", "uuid"]


def test_an_unchanged_inventory_writes_no_inventory_bytes(app, company):
    first = service.ingest(company, message("fusion_debian.xml"), service.SOURCE_FUSION)
    seen_before = db.session.get(MachinePresence, first.machine.id).last_seen_at
    # Free space and boot time change between runs: they are not inventory changes.
    xml = fixture_bytes("fusion_debian.xml").replace(b"<FREE>80485</FREE>", b"<FREE>79000</FREE>")
    second = service.ingest(company, service.parse_message(xml), service.SOURCE_FUSION)
    assert (second.created, second.inventory_stored) == (False, False)
    assert second.machine.id == first.machine.id
    assert snapshot_count(first.machine.id) == 1
    db.session.expire_all()
    assert db.session.get(MachinePresence, first.machine.id).last_seen_at > seen_before


def test_a_changed_inventory_is_kept_and_the_change_shown(app, company):
    first = service.ingest(company, message("fusion_debian.xml"), service.SOURCE_FUSION)
    xml = with_extra_software(fixture_bytes("fusion_debian.xml"), "zabbix-agent")
    second = service.ingest(company, service.parse_message(xml), service.SOURCE_FUSION)
    assert second.inventory_stored is True
    assert snapshot_count(first.machine.id) == 2
    machine = db.session.get(Machine, first.machine.id)
    changes = diff_inventories(latest_inventory(machine, 1).inventory, latest_inventory(machine).inventory)
    assert changes["software_added"] == [("zabbix-agent", "1.0")]


def test_our_agent_and_fusioninventory_report_one_device(app, company, register_device):
    body, _ = register_device(serials=("8H2K3L4",), macs=("B0-7B-25-11-22-33",), hostname="recepcao-02")
    result = service.ingest(company, message("fusion_windows.xml"), service.SOURCE_FUSION)
    assert result.created is False
    assert result.machine.id == body["machineId"]
    assert result.machine.source == "agente Chamados, FusionInventory"
    assert db.session.scalar(select(func.count()).select_from(Machine)) == 1


def test_a_device_first_seen_by_fusioninventory_is_reused_by_our_agent(app, company, register_device):
    result = service.ingest(company, message("fusion_debian.xml"), service.SOURCE_FUSION)
    # Our agent sends every MAC it sees, virtual ones included: the physical one matches.
    body, _ = register_device(serials=(), macs=("ca:84:d3:56:3f:9f", "02:fc:00:00:00:01"))
    assert (body["machineId"], body["reused"]) == (result.machine.id, True)
    machine = db.session.get(Machine, result.machine.id)
    assert machine.source == "FusionInventory, agente Chamados"


def test_devices_are_matched_only_within_the_tenant(app, company, other_tenant):
    other_company = Company(tenant_id=other_tenant.id, name="Outra", apelido="outra")
    db.session.add(other_company)
    db.session.commit()
    results = []
    for each in (company, other_company):
        with tenancy.scope(each.tenant_id):  # as the inventory endpoint works, once the code is known
            results.append(service.ingest(each, message("fusion_windows.xml"), service.SOURCE_FUSION))
    ours, theirs = results
    assert ours.machine.id != theirs.machine.id
    assert (theirs.created, theirs.machine.tenant_id) == (True, other_tenant.id)


def test_a_deactivated_device_is_refused(app, company):
    result = service.ingest(company, message("fusion_windows.xml"), service.SOURCE_FUSION)
    result.machine.is_active = False
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        service.ingest(company, message("fusion_windows.xml"), service.SOURCE_FUSION)
    assert refused.value.status == 403


def test_an_inventory_without_identity_or_content_is_refused(app, company):
    empty = service.parse_message(b"<REQUEST><QUERY>INVENTORY</QUERY></REQUEST>")
    anonymous = service.parse_message(
        orjson.dumps({"action": "inventory", "content": {"hardware": {"name": "x"}}})
    )
    for parsed, code in ((empty, "content_missing"), (anonymous, "identity_missing")):
        with pytest.raises(DomainError) as refused:
            service.ingest(company, parsed, service.SOURCE_GLPI)
        assert (refused.value.status, refused.value.code) == (422, code)


def test_credentials_are_checked_only_when_set(app, tenant):
    service.check_credentials(tenant, None, None)  # off: anyone with the code
    service.set_credentials(tenant, "inventario", "segredo-forte")
    assert tenant.inventory_password_hash.startswith("$argon2")
    service.check_credentials(tenant, "inventario", "segredo-forte")
    for username, password in (("inventario", "errada"), (None, None), ("outro", "segredo-forte")):
        with pytest.raises(DomainError) as refused:
            service.check_credentials(tenant, username, password)
        assert refused.value.status == 401
    service.clear_credentials(tenant)
    service.check_credentials(tenant, None, None)
