"""Inventories from agents a site already runs: FusionInventory (OCS XML) and GLPI Agent (JSON).

The protocol, as the real agents speak it:

* FusionInventory POSTs `<REQUEST><QUERY>PROLOG</QUERY>…` and then
  `<REQUEST><QUERY>INVENTORY</QUERY><CONTENT>…` to the URL it was given, the body
  zlib-compressed (gzip and plain XML also occur). It sniffs the reply's bytes, so
  a reply is encoded like its request (zlib at the default level: `78 9C`).
* GLPI Agent sends the same PROLOG with a `GLPI-Agent-ID` header; a JSON answer
  switches it to JSON messages: `{"action": "contact"}` and
  `{"action": "inventory", "content": {…}}` (the XML's sections, lower-case).

Both become the device model our own agent uses (app/devices), found or created by the
same `upsert_device`, with the same change detection: an unchanged inventory writes no
inventory bytes. Bodies are bounded before and after decompression and XML is parsed by
defusedxml. Refusals are DomainErrors, answered in the agent's own format
(app/views/inventory_api.py).
"""

from __future__ import annotations

import gzip
import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException
from flask import current_app
from sqlalchemy import select

from app.devices.identity import device_identifiers, upsert_device
from app.devices.inventory import store_inventory
from app.extensions import db
from app.models import Company, Machine, Tenant
from app.models.types import utcnow
from app.services import api_input, companies, compression
from app.services.changes import apply_changes
from app.services.errors import DomainError
from app.services.passwords import hash_password, verify_password

log = logging.getLogger(__name__)

SOURCE_FUSION = "FusionInventory"
SOURCE_GLPI = "GLPI Agent"
MIB = 1024 * 1024
# Sections that are lists even when the agent sends a single element.
LIST_SECTIONS = frozenset(
    {"softwares", "cpus", "drives", "networks", "memories", "storages", "accountinfo", "controllers"}
)
SOFTWARE_LIMIT = 10_000
# Levels of elements an XML message may nest: the agents' own go 4 deep
# (REQUEST > CONTENT > SOFTWARES > NAME); the JSON ones obey api_input.MAX_DEPTH.
MAX_XML_DEPTH = 32


# --- bodies -----------------------------------------------------------------------


@dataclass
class Body:
    data: bytes
    compression: str  # "zlib", "gzip" or "none": the reply is encoded the same way


def decode_body(raw: bytes) -> Body:
    """Decompress by the bytes themselves (agents' Content-Type is not reliable), bounded."""
    limit = current_app.config["INVENTORY_MAX_DECODED_BYTES"]
    if raw[:2] == b"\x1f\x8b":
        return Body(_inflate(raw, "gzip", limit), "gzip")
    if len(raw) >= 2 and raw[0] == 0x78 and (raw[0] * 256 + raw[1]) % 31 == 0:
        return Body(_inflate(raw, "zlib", limit), "zlib")
    if len(raw) > limit:
        raise _too_large(limit)
    return Body(raw, "none")


def _inflate(raw: bytes, encoding: str, limit: int) -> bytes:
    try:
        return compression.inflate(raw, encoding, limit)
    except compression.CorruptBody:
        raise DomainError("Corpo comprimido inválido.", status=400, code="bad_compression") from None
    except compression.BodyTooLarge:
        raise _too_large(limit) from None


def _too_large(limit: int) -> DomainError:
    return DomainError(f"O inventário excede {limit // MIB} MB.", status=413, code="payload_too_large")


def encode_reply(payload: bytes, compression: str) -> bytes:
    if compression == "zlib":
        return zlib.compress(payload)  # default level: the agent looks for 78 9C
    if compression == "gzip":
        return gzip.compress(payload)
    return payload


# --- messages ---------------------------------------------------------------------


@dataclass
class Message:
    """One agent request, whichever protocol it came in."""

    protocol: str  # "xml" or "json"
    action: str  # "prolog", "inventory", "contact", or what the agent asked
    deviceid: str | None
    content: dict = field(default_factory=dict)
    tag: str | None = None


def parse_message(data: bytes) -> Message:
    start = data.lstrip()[:1]
    if start == b"<":
        return _parse_xml(data)
    if start in (b"{", b"["):
        return _parse_json(data)
    raise DomainError("Corpo não é XML nem JSON de inventário.", status=400, code="unknown_format")


def _parse_xml(data: bytes) -> Message:
    root = _xml_root(data)
    if root.tag != "REQUEST":
        raise DomainError("O XML deve ter <REQUEST> como raiz.", status=400, code="xml_malformed")
    query = (root.findtext("QUERY") or "").strip().lower()
    if not query:
        raise DomainError("Falta <QUERY> na requisição.", status=400, code="query_missing")
    content_element = root.find("CONTENT")
    content = _element_to_dict(content_element, 2) if content_element is not None else {}
    if not isinstance(content, dict):
        content = {}
    return Message(
        protocol="xml",
        action=query,
        deviceid=(root.findtext("DEVICEID") or "").strip() or None,
        content=content,
        tag=_tag_from_accountinfo(content),
    )


def _xml_root(data: bytes):
    try:
        return SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise DomainError(
            "XML com DTD ou entidades não é aceito.", status=400, code="xml_forbidden"
        ) from None
    except SafeElementTree.ParseError as error:
        line, column = error.position  # expat counts columns from 0
        raise DomainError(
            f"XML malformado (linha {line}, coluna {column + 1}).", status=400, code="xml_malformed"
        ) from None


def _element_to_dict(element, depth: int):
    """OCS XML to the GLPI Agent JSON shape: lower-case keys, repeated elements as lists.
    `depth`: the element's level in the document (<REQUEST> is 1).

    The depth bound lives here, the one place that walks the tree (by recursion: 200 000 nested
    elements overflowed its stack, a 500). expat itself parses nesting without recursion and
    the rest of the message is read only one level down, so a bound while parsing (iterparse
    counting levels) would only have slowed every inventory by ~40 %."""
    if depth > MAX_XML_DEPTH:
        raise DomainError(
            f"O XML aninha elementos em mais de {MAX_XML_DEPTH} níveis.", status=400, code="xml_too_deep"
        )
    children = list(element)
    if not children:
        return (element.text or "").strip()
    result: dict = {}
    for child in children:
        key = child.tag.lower()
        value = _element_to_dict(child, depth + 1)
        if key in result:
            if not isinstance(result[key], list):
                result[key] = [result[key]]
            result[key].append(value)
        else:
            result[key] = [value] if key in LIST_SECTIONS else value
    return result


def _parse_json(data: bytes) -> Message:
    """GLPI Agent's JSON, read by the agent API's reader (app/services/api_input.py): not UTF-8,
    nested too deep or not JSON is a 400, a NUL in any string a 422 naming the field."""
    try:
        document = api_input.loads(data)
    except DomainError as refusal:
        code = "json_malformed" if refusal.code == "invalid_json" else refusal.code
        raise DomainError(refusal.message, status=refusal.status, code=code) from None
    if not isinstance(document, dict):
        raise DomainError("O JSON deve ser um objeto.", status=400, code="json_malformed")
    action = str(document.get("action") or "").strip().lower()
    if not action:
        raise DomainError('Falta "action" na requisição.', status=400, code="action_missing")
    content = document.get("content") or {}
    if not isinstance(content, dict):
        raise DomainError('"content" deve ser um objeto.', status=422, code="content_invalid")
    deviceid = document.get("deviceid")
    return Message(
        protocol="json",
        action=action,
        deviceid=str(deviceid).strip() if deviceid else None,
        content=content,
        tag=str(document.get("tag") or "").strip() or _tag_from_accountinfo(content),
    )


def _tag_from_accountinfo(content: dict) -> str | None:
    """The agent's --tag: <ACCOUNTINFO><KEYNAME>TAG</KEYNAME><KEYVALUE>…</KEYVALUE>."""
    for info in _as_list(content.get("accountinfo")):
        if isinstance(info, dict) and str(info.get("keyname", "")).upper() == "TAG":
            return str(info.get("keyvalue") or "").strip() or None
    return None


def source_of(message: Message, glpi_header: bool) -> str:
    """ "GLPI Agent" or "FusionInventory", as the device page shows it."""
    client = _text(message.content.get("versionclient"))
    if glpi_header or message.protocol == "json" or client.lower().startswith("glpi"):
        return SOURCE_GLPI
    return SOURCE_FUSION


# --- tenants and credentials -----------------------------------------------------------


def company_for_code(code: str | None) -> Company:
    code = (code or "").strip().upper()
    if "\x00" in code:  # the URL's %00: PostgreSQL cannot even compare text holding it
        raise DomainError(
            "Campo inválido: código da empresa (caractere NUL não é aceito).",
            status=422,
            code="invalid_field",
        )
    company = companies.by_provisioning_code(code)
    if company is None:
        raise DomainError(
            "Código da empresa não encontrado: confira a URL ou a --tag do agente.",
            status=404,
            code="company_not_found",
        )
    return company


def companies_with_codes() -> list:
    """Active companies and the code their inventories are sent with (the admin page)."""
    return db.session.execute(
        select(Company.id, Company.apelido, Company.name, Company.provisioning_code)
        .where(Company.is_active.is_(True))
        .order_by(Company.apelido)
    ).all()


def check_credentials(tenant: Tenant, username: str | None, password: str | None) -> None:
    """Basic auth, when the tenant turned it on (the agent's --user / --password)."""
    if not tenant.inventory_username:
        return
    if not (
        username == tenant.inventory_username
        and verify_password(tenant.inventory_password_hash, password or "")
    ):
        raise DomainError("Usuário ou senha do inventário inválidos.", status=401, code="auth_required")


def set_credentials(tenant: Tenant, username: str, password: str) -> None:
    username = (username or "").strip()
    if not username or ":" in username:
        raise DomainError("Informe um usuário sem dois-pontos.", field="username")
    if len(password or "") < 8:
        raise DomainError("A senha precisa de pelo menos 8 caracteres.", field="password")
    tenant.inventory_username = username[:120]
    tenant.inventory_password_hash = hash_password(password)
    db.session.flush()


def clear_credentials(tenant: Tenant) -> None:
    apply_changes(tenant, {"inventory_username": None, "inventory_password_hash": None})


# --- normalisation ---------------------------------------------------------------


@dataclass
class Normalised:
    hostname: str
    os: dict
    identifiers: dict[str, list[str]]
    serials: list[str]
    macs: list[str]
    inventory: dict


def _as_list(value) -> list:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _section(content: dict, name: str) -> dict:
    value = content.get(name)
    if isinstance(value, list):
        value = value[0] if value else {}
    return value if isinstance(value, dict) else {}


def _text(value, limit: int = 255) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return " ".join(str(value).split())[:limit]


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")


def normalise_os(os_section: dict, hardware: dict) -> dict:
    """ "Windows 11 Pro" + build 26100; "Debian GNU/Linux" + "12 (bookworm)"."""
    name = _text(os_section.get("name"), 120)
    full = _text(os_section.get("full_name") or hardware.get("osname"), 120)
    kernel = _text(os_section.get("kernel_version") or hardware.get("osversion"), 60)
    arch = _text(os_section.get("arch"), 20)
    if "windows" in (full or name).lower():
        label = full.removeprefix("Microsoft ").strip() or name
        build = kernel.rsplit(".", 1)[-1] if kernel.count(".") >= 2 else ""
        return {"name": label, "version": "", "build": build, "arch": arch, "kernel": kernel}
    if full and name and full.startswith(name):
        version = full[len(name) :].strip()
    else:
        name, version = (full or name), ""
    if not version:
        version = _text(os_section.get("version"), 60)
    return {
        "name": name or "Sistema desconhecido",
        "version": version,
        "build": "",
        "arch": arch,
        "kernel": kernel,
    }


def _disks(content: dict) -> list[dict]:
    disks = []
    for drive in _as_list(content.get("drives")):
        if not isinstance(drive, dict):
            continue
        mount = _text(drive.get("letter") or drive.get("type") or drive.get("volumn"), 120)
        total = _number(drive.get("total"))
        if not mount or not total:
            continue
        free = _number(drive.get("free"))
        disks.append(
            {
                "mount": mount,
                "fs": _text(drive.get("filesystem"), 40),
                "totalBytes": int(total * MIB),
                "freeBytes": int(free * MIB) if free is not None else None,
            }
        )
    return sorted(disks, key=lambda d: d["mount"])


def _network(content: dict) -> tuple[list[dict], list[str]]:
    """Interfaces merged by name (the agents repeat one per address) and the MACs that identify."""
    interfaces: dict[str, dict] = {}
    physical_macs, all_macs = [], []
    for nic in _as_list(content.get("networks")):
        if not isinstance(nic, dict):
            continue
        name = _text(nic.get("description") or nic.get("name"), 120)
        mac = _text(nic.get("macaddr"), 40).lower()
        if not name or _text(nic.get("type")).lower() == "loopback":
            continue
        entry = interfaces.setdefault(name, {"name": name, "mac": mac or None, "ipv4": []})
        address = _text(nic.get("ipaddress"), 60)
        if address and address not in entry["ipv4"]:
            entry["ipv4"].append(address)
        if mac:
            all_macs.append(mac)
            if not _flag(nic.get("virtualdev")):
                physical_macs.append(mac)
    # Virtual interfaces get random MACs: they identify a device only when it has nothing else.
    return sorted(interfaces.values(), key=lambda n: n["name"]), physical_macs or all_macs


def _software(content: dict) -> list[dict]:
    seen = set()
    for item in _as_list(content.get("softwares")):
        if not isinstance(item, dict):
            continue
        name = _text(item.get("name"))
        if name:
            seen.add((name, _text(item.get("version"), 120), _text(item.get("publisher"), 255)))
    rows = sorted(seen)[:SOFTWARE_LIMIT]
    return [{"name": n, "version": v, "publisher": p} for n, v, p in rows]


def normalise(message: Message) -> Normalised:
    content = message.content
    hardware = _section(content, "hardware")
    bios = _section(content, "bios")
    cpus = [c for c in _as_list(content.get("cpus")) if isinstance(c, dict)]
    os_info = normalise_os(_section(content, "operatingsystem"), hardware)
    network, macs = _network(content)
    serial = _text(bios.get("ssn"), 120)
    uuid = _text(hardware.get("uuid"), 120)
    memory_mb = _number(hardware.get("memory"))
    threads = sum(int(_number(c.get("thread") or c.get("core")) or 0) for c in cpus)
    inventory = {
        "hardware": {
            "manufacturer": _text(bios.get("smanufacturer") or bios.get("bmanufacturer"), 120),
            "model": _text(bios.get("smodel"), 120),
            "cpu": _text(cpus[0].get("name"), 120) if cpus else _text(hardware.get("processort"), 120),
            "cores": threads or None,
            "memoryBytes": int(memory_mb * MIB) if memory_mb else None,
            "serial": serial,
            "uuid": uuid,
        },
        "os": os_info,
        "disks": _disks(content),
        "network": network,
        "software": _software(content),
    }
    identifiers = device_identifiers(deviceid=message.deviceid, uuid=uuid, serials=[serial], macs=macs)
    hostname = _text(hardware.get("name") or _section(content, "operatingsystem").get("fqdn"), 255)
    return Normalised(
        hostname=hostname or message.deviceid or "sem-nome",
        os=os_info,
        identifiers=identifiers,
        serials=identifiers.get("serial", []),
        macs=identifiers.get("mac", []),
        inventory=inventory,
    )


# --- ingestion ---------------------------------------------------------------------


@dataclass
class IngestResult:
    machine: Machine
    created: bool
    inventory_stored: bool


def ingest(company: Company, message: Message, source: str, now: datetime | None = None) -> IngestResult:
    """Find or create the device, keep the inventory if it changed, mark it seen. One transaction."""
    now = now or utcnow()
    if not message.content:
        raise DomainError("O inventário veio sem conteúdo.", status=422, code="content_missing")
    data = normalise(message)
    if not data.identifiers:
        raise DomainError(
            "O inventário não traz DEVICEID, UUID, série nem MAC.", status=422, code="identity_missing"
        )
    machine, created = upsert_device(
        company,
        data.identifiers,
        source=source,
        now=now,
        fields={"hostname": data.hostname, "os_arch": data.os["arch"][:20]},
        fields_if_new={
            "os_name": data.os["name"][:120],
            "os_version": data.os["version"][:60],
            "os_build": data.os["build"][:60],
        },
        fill_if_empty={"serial_numbers": data.serials, "mac_addresses": data.macs},
    )
    stored = store_inventory(machine, data.inventory, now)
    return IngestResult(machine=machine, created=created, inventory_stored=stored)
