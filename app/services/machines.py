"""Devices: registration and tokens, heartbeats, posture alerts, USB policy, access.

Every rule about devices lives here, used by the agent API, the admin pages,
the CLI and the workers. The heartbeat path is the hot one: an identical
heartbeat updates one narrow row (presence) in place, appends a small metric
sample only every METRIC_SAMPLE_SECONDS, and writes no inventory bytes at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
import xxhash
from flask import current_app
from markupsafe import escape
from sqlalchemy import bindparam, delete, func, insert, select, update

from app import db_direct
from app.extensions import db
from app.models import (
    AlertSeverity,
    ChatSessionStatus,
    Company,
    InventorySnapshot,
    LiveChatSession,
    Machine,
    MachineAlert,
    MachineIdentifier,
    MachineLink,
    MachinePresence,
    MachineToken,
    MetricSample,
    Persona,
    Role,
    Ticket,
    TicketPriority,
    UsbPolicy,
    UsbPolicyMode,
    UsbPolicyStatus,
    User,
)
from app.models.types import utcnow
from app.services import api_input, audit, notifications, presence
from app.services.changes import apply_changes
from app.services.errors import Conflict, DomainError, NotFound, ValidationError
from app.services.tickets import create_ticket
from app.services.users import find_person, find_user, normalise_email

HEARTBEAT_INTERVAL_SECONDS = 60
# Serial numbers that vendors ship as placeholders identify nothing.
JUNK_SERIALS = {
    "",
    "0",
    "none",
    "default string",
    "to be filled by o.e.m.",
    "system serial number",
    "not specified",
    "not applicable",
    "123456789",
    "0123456789",
}
JUNK_MACS = {"00:00:00:00:00:00", ""}
# SMBIOS UUIDs that firmware ships unset or as a known placeholder.
JUNK_UUIDS = {
    "",
    "00000000-0000-0000-0000-000000000000",
    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "03000200-0400-0500-0006-000700080009",
}
# Strongest first: a device is found by the first kind that matches.
IDENTIFIER_KINDS = ("deviceid", "uuid", "serial", "mac")
SOURCE_CHAMADOS = "agente Chamados"


class AgentError(DomainError):
    """An agent request refused; `code` is the stable machine-readable reason."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message, field=field, code=code)
        self.status = status


# --- tokens -----------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(machine: Machine, now: datetime | None = None) -> tuple[str, MachineToken]:
    """A new token: 32 random bytes, shown once, stored only as its SHA-256."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    ttl = timedelta(milliseconds=current_app.config["MACHINE_TOKEN_TTL_MS"])
    record = MachineToken(
        machine_id=machine.id, token_hash=hash_token(token), created_at=now, expires_at=now + ttl
    )
    db.session.add(record)
    return token, record


def revoke_tokens(machine: Machine, reason: str, now: datetime | None = None) -> int:
    result = db.session.execute(
        update(MachineToken)
        .where(MachineToken.machine_id == machine.id, MachineToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@dataclass
class AgentContext:
    """What a request needs of the device behind a token, read in one narrow query.

    The full device row is loaded only when something needs it (a changed
    inventory, alerts, the session endpoint), never for an identical heartbeat.
    """

    token_id: int
    machine_id: int
    tenant_id: int
    inventory_hash: str | None
    inventory_fingerprint: str | None
    usb_mode: str | None
    usb_status: str | None
    usb_requested_at: datetime | None
    last_sample_at: datetime | None = None
    chat_sessions: int = 0
    chat_unread: int = 0

    @property
    def machine(self) -> Machine:
        return db.session.get(Machine, self.machine_id)


# The heartbeat answers with the chat state; read in the token query itself (no extra round trip).
_active_device_chats = (
    LiveChatSession.machine_id == Machine.id,
    LiveChatSession.status == ChatSessionStatus.ACTIVE,
)
_active_chats = select(func.count()).where(*_active_device_chats).correlate(Machine)
_unread_chat = (
    select(func.coalesce(func.sum(LiveChatSession.unread_by_machine), 0))
    .where(*_active_device_chats)
    .correlate(Machine)
)

# Built once, with a bind parameter: app/db_direct.py compiles it once per engine.
_TOKEN_CONTEXT = (
    select(
        MachineToken.revoked_at,
        MachineToken.expires_at,
        MachineToken.id,
        Machine.id,
        Machine.tenant_id,
        Machine.is_active,
        Machine.inventory_hash,
        Machine.inventory_fingerprint,
        UsbPolicy.mode,
        UsbPolicy.status,
        UsbPolicy.requested_at,
        MachinePresence.last_sample_at,
        _active_chats.scalar_subquery(),
        _unread_chat.scalar_subquery(),
    )
    .join(Machine, Machine.id == MachineToken.machine_id)
    .outerjoin(UsbPolicy, UsbPolicy.machine_id == Machine.id)
    .outerjoin(MachinePresence, MachinePresence.machine_id == Machine.id)
    .where(MachineToken.token_hash == bindparam("token_hash"))
)


def token_context_row(token_hash: str) -> tuple | None:
    """The row of _TOKEN_CONTEXT for a token hash: one autocommit round trip (app/db_direct.py)."""
    return db_direct.first_row(_TOKEN_CONTEXT, {"token_hash": token_hash})


def authenticate_token(token: str | None) -> AgentContext:
    """The device of a bearer token, or an AgentError (401/403). The one token check.

    One statement in autocommit mode: a single round trip, with no BEGIN/COMMIT
    around it and no ORM session work (this runs on every heartbeat).
    """
    if not token:
        raise AgentError(401, "token_missing", "Envie o token do dispositivo no cabeçalho Authorization.")
    row = token_context_row(hash_token(token))
    if row is None:
        raise AgentError(401, "token_invalid", "Token do dispositivo inválido.")
    revoked_at, expires_at, token_id, machine_id, tenant_id, is_active, *rest = row
    _refuse_unusable(revoked_at, expires_at, is_active)
    return AgentContext(token_id, machine_id, tenant_id, *rest)


def _refuse_unusable(revoked_at: datetime | None, expires_at: datetime, machine_active: bool) -> None:
    if revoked_at is not None:
        raise AgentError(401, "token_revoked", "Token revogado: registre o dispositivo novamente.")
    if expires_at <= utcnow():
        raise AgentError(401, "token_expired", "Token expirado: registre o dispositivo novamente.")
    if not machine_active:
        raise AgentError(403, "machine_disabled", "Este dispositivo foi desativado pelo administrador.")


_TOKEN_STILL_VALID = (
    select(MachineToken.revoked_at, MachineToken.expires_at, Machine.is_active)
    .join(Machine, Machine.id == MachineToken.machine_id)
    .where(MachineToken.id == bindparam("token_id"))
)


def check_token_still_valid(token_id: int) -> None:
    """For sockets and sessions opened with a token: the same rules, by token id. Runs on
    every chat frame, so it is one autocommit round trip outside the request's transaction."""
    row = db_direct.first_row(_TOKEN_STILL_VALID, {"token_id": token_id})
    if row is None:
        raise AgentError(401, "token_invalid", "Token do dispositivo inválido.")
    _refuse_unusable(*row)


def device_person(machine: Machine) -> User | None:
    """Who uses the device: the assigned user, else the first linked user (the seed's rule)."""
    if machine.assigned_user is not None:
        return machine.assigned_user
    return db.session.scalar(
        select(User)
        .join(MachineLink, MachineLink.user_id == User.id)
        .where(MachineLink.machine_id == machine.id)
        .order_by(MachineLink.created_at, User.id)
        .limit(1)
    )


# --- identity -------------------------------------------------------------------


def normalise_serials(serials: list[str]) -> list[str]:
    clean = {str(s).strip().upper() for s in serials or []}
    return sorted(s for s in clean if s.lower() not in JUNK_SERIALS)


def normalise_macs(macs: list[str]) -> list[str]:
    clean = {str(m).strip().lower().replace("-", ":") for m in macs or []}
    return sorted(m for m in clean if m not in JUNK_MACS)


def normalise_uuid(value: str | None) -> str | None:
    value = str(value or "").strip().upper()
    return None if value in JUNK_UUIDS else value[:255]


def device_identifiers(
    *, deviceid: str | None = None, uuid: str | None = None, serials=(), macs=()
) -> dict[str, list[str]]:
    """What identifies a device, normalised, by kind (see MachineIdentifier)."""
    found = {
        "deviceid": [str(deviceid).strip()[:255]] if deviceid and str(deviceid).strip() else [],
        "uuid": [u for u in [normalise_uuid(uuid)] if u],
        "serial": normalise_serials(list(serials)),
        "mac": normalise_macs(list(macs)),
    }
    return {kind: values for kind, values in found.items() if values}


def find_machine_by_identifiers(tenant_id: int, identifiers: dict[str, list[str]]) -> Machine | None:
    """The tenant's device any identifier names, trying the strongest kind first."""
    for kind in IDENTIFIER_KINDS:
        values = identifiers.get(kind)
        if not values:
            continue
        machine = db.session.scalar(
            select(Machine)
            .join(MachineIdentifier, MachineIdentifier.machine_id == Machine.id)
            .where(
                MachineIdentifier.tenant_id == tenant_id,
                MachineIdentifier.kind == kind,
                MachineIdentifier.value.in_(values),
            )
            .order_by(Machine.id)
            .limit(1)
        )
        if machine is not None:
            return machine
    return None


def remember_identifiers(machine: Machine, identifiers: dict[str, list[str]]) -> int:
    """Record identifiers not known yet; one that another device already holds stays with it.
    Reads first, so an unchanged device writes nothing."""
    wanted = {(kind, value) for kind, values in identifiers.items() for value in values}
    if not wanted:
        return 0
    known = set(
        db.session.execute(
            select(MachineIdentifier.kind, MachineIdentifier.value).where(
                MachineIdentifier.tenant_id == machine.tenant_id,
                MachineIdentifier.value.in_({value for _, value in wanted}),
            )
        ).all()
    )
    new = sorted(wanted - known)
    for kind, value in new:
        db.session.add(
            MachineIdentifier(tenant_id=machine.tenant_id, machine_id=machine.id, kind=kind, value=value)
        )
    return len(new)


def with_source(sources: str | None, label: str) -> str:
    """The device's sources plus `label`: "agente Chamados, FusionInventory"."""
    current = [s.strip() for s in (sources or "").split(",") if s.strip()]
    return ", ".join(current if label in current else [*current, label])


def hardware_fingerprint(serials: list[str], macs: list[str]) -> str | None:
    """Serial numbers identify hardware best; MAC addresses when there are none."""
    basis = normalise_serials(serials) and ["s:" + s for s in normalise_serials(serials)]
    basis = basis or ["m:" + m for m in normalise_macs(macs)]
    if not basis:
        return None
    return hashlib.sha256("|".join(basis).encode()).hexdigest()


def format_os_version(name: str | None, version: str | None = None, build: str | None = None) -> str:
    """ "Windows 11 Pro (26100)", "Debian GNU/Linux 12 (bookworm)": the major never twice."""
    name = " ".join((name or "").split())
    version = " ".join((version or "").split())
    build = " ".join((build or "").split())
    label = name
    if version and version.split()[0] not in name.split():
        label = f"{label} {version}".strip()
    if build and build not in label:
        label = f"{label} ({build})"
    return label or "Sistema desconhecido"


def is_online(last_seen_at: datetime | None, now: datetime | None = None) -> bool:
    """Online = a heartbeat within the window. The one definition used everywhere."""
    return last_seen_at is not None and last_seen_at >= online_cutoff(now)


def online_cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(seconds=current_app.config["MACHINE_ONLINE_WINDOW_SECONDS"])


# --- registration ----------------------------------------------------------------


@dataclass
class Registration:
    machine: Machine
    token: str
    expires_at: datetime
    user: User
    reused: bool


def _check_provisioning_secret(secret: str | None) -> None:
    expected = current_app.config.get("MACHINE_PROVISIONING_SECRET")
    if not expected or not secret or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise AgentError(401, "provisioning_secret_invalid", "Segredo de provisionamento inválido.")


def person_for_device(company: Company, email: str) -> User:
    """The person an e-mail names for a device of this company; created if new."""
    email = normalise_email(email)
    user = find_person(company.tenant_id, email)
    if user is None:
        user = User(
            tenant_id=company.tenant_id,
            email=email,
            name=email.split("@")[0],
            role=Role.COLLABORATOR,
            company_id=company.id,
        )
        db.session.add(user)
        db.session.flush()
        return user
    if not user.is_active:
        raise AgentError(403, "user_disabled", "A conta deste e-mail está desativada.", field="email")
    if user.role == Role.COLLABORATOR and user.company_id != company.id:
        raise AgentError(409, "email_other_company", "Este e-mail pertence a outra empresa.", field="email")
    return user


def register(
    *,
    secret: str | None,
    company_code: str,
    email: str,
    hostname: str,
    os: dict,
    mac_addresses: list[str],
    serial_numbers: list[str],
    source: str = SOURCE_CHAMADOS,
) -> Registration:
    _check_provisioning_secret(secret)
    company = db.session.scalar(
        select(Company).where(Company.provisioning_code == (company_code or "").strip().upper())
    )
    if company is None or not company.is_active:
        raise AgentError(404, "company_not_found", "Código da empresa não encontrado.", field="companyCode")
    try:
        user = person_for_device(company, email)
    except ValidationError as error:
        raise AgentError(422, "invalid_email", error.message, field="email") from None

    now = utcnow()
    fingerprint = hardware_fingerprint(serial_numbers, mac_addresses)
    machine = None
    if fingerprint:
        machine = db.session.scalar(
            select(Machine)
            .where(Machine.tenant_id == company.tenant_id, Machine.fingerprint == fingerprint)
            .order_by(Machine.id)
        )
    identifiers = device_identifiers(serials=serial_numbers, macs=mac_addresses)
    if machine is None:
        # Known by another source (FusionInventory, GLPI Agent) or by part of its hardware.
        machine = find_machine_by_identifiers(company.tenant_id, identifiers)
    reused = machine is not None
    if machine is not None and not machine.is_active:
        raise AgentError(403, "machine_disabled", "Este dispositivo foi desativado pelo administrador.")
    identity = {
        "company_id": company.id,
        "hostname": hostname.strip()[:255],
        "fingerprint": fingerprint,
        "serial_numbers": normalise_serials(serial_numbers),
        "mac_addresses": normalise_macs(mac_addresses),
        "os_name": str(os.get("name") or "")[:120],
        "os_version": str(os.get("version") or "")[:60],
        "os_build": str(os.get("build") or "")[:60],
        "os_arch": str(os.get("arch") or "")[:20],
        "assigned_user_id": user.id,
        "source": with_source(machine.source if machine else None, source),
    }
    if machine is None:
        machine = Machine(tenant_id=company.tenant_id, created_at=now, **identity)
        db.session.add(machine)
        db.session.flush()
        db.session.add(MachinePresence(machine_id=machine.id, last_seen_at=now))
    else:
        apply_changes(machine, identity, commit=False)
        revoke_tokens(machine, "re-registered", now)
        presence.touch(machine.id, now)
    remember_identifiers(machine, identifiers)
    token, record = issue_token(machine, now)
    db.session.commit()
    return Registration(machine=machine, token=token, expires_at=record.expires_at, user=user, reused=reused)


# --- heartbeats -----------------------------------------------------------------


# Values that change on every heartbeat are metrics, not inventory: they must not
# make an otherwise identical inventory look new (that is write amplification).
VOLATILE_DISK_KEYS = frozenset({"freeBytes", "freePercent"})


def stable_disks(disks):
    if not isinstance(disks, list):
        return disks
    return [
        {k: v for k, v in d.items() if k not in VOLATILE_DISK_KEYS} if isinstance(d, dict) else d
        for d in disks
    ]


def stable_inventory(inventory: dict) -> dict:
    if "disks" not in inventory:
        return inventory
    return {**inventory, "disks": stable_disks(inventory["disks"])}


def canonical_hash(document) -> str:
    """SHA-256 of canonical JSON (sorted keys): equal content, equal hash."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def inventory_hash(inventory: dict) -> str:
    return canonical_hash(stable_inventory(inventory))


class SentInventory:
    """A heartbeat's inventory as the agent sent it: each top-level part ("hardware",
    "software", ...) still as its JSON text, parsed only when it may have changed.

    The original desktop app sends its whole ~90 KB inventory on every beat. Parsing it
    into Python objects and hashing it canonically was a third of a heartbeat's CPU, yet
    an agent writes the same content as the same text beat after beat. So the text has a
    fingerprint, and a machine keeps the fingerprint of the text behind its last snapshot
    (Machine.inventory_fingerprint): the same fingerprint means the same content, with no
    parsing at all. A different one means nothing by itself (the agent may have written
    the same content differently): the inventory is parsed and its canonical hash, as
    before, decides whether a snapshot is stored.
    """

    def __init__(self, parts: dict):
        self.parts = parts  # part name -> its JSON text (bytes-like)

    def fingerprint(self) -> str:
        """XXH3-128 over every part, by name, as sent; the disks part without its free space
        (it changes every beat, and is no inventory change: see VOLATILE_DISK_KEYS).

        Not SHA-256, which took 50 us for 90 KB (XXH3: 2 us): this digest guards against
        accidents, not forgers. A device that forged a collision would only keep a change of
        its own inventory from being stored, and it can send any inventory it likes anyway.
        """
        digest = xxhash.xxh3_128()
        for name in sorted(self.parts):
            text = self.parts[name]
            if name == "disks":
                disks = stable_disks(_part(text))
                try:
                    text = orjson.dumps(disks, option=orjson.OPT_SORT_KEYS)
                except orjson.JSONEncodeError:  # nested past orjson's 255 levels (past ours too)
                    raise api_input.too_deep() from None
            encoded = name.encode()
            # Lengths first, so no two different inventories can run together the same way.
            digest.update(b"%d:%s%d:" % (len(encoded), encoded, memoryview(text).nbytes))
            digest.update(text)
        return digest.hexdigest()

    def document(self) -> dict:
        """The parts parsed. A part that is not UTF-8, or not JSON, is refused here (400): msgspec
        kept it as text, unread. What else the rules of app/services/api_input.py refuse (NUL,
        depth) is checked before a snapshot is stored (_note_inventory)."""
        return {name: _part(text) for name, text in self.parts.items()}


def _part(text):
    try:
        return orjson.loads(memoryview(text))
    except orjson.JSONDecodeError as error:
        raise api_input.refusal_for(memoryview(text), error) from None


def metric_sample_due(last_sample_at: datetime | None, now: datetime) -> bool:
    """Charts need a point every few minutes, not one per heartbeat (that would be
    ~1 500 rows per device per day kept for 90 days)."""
    interval = current_app.config["METRIC_SAMPLE_SECONDS"]
    return last_sample_at is None or now - last_sample_at >= timedelta(seconds=interval)


@dataclass
class HeartbeatResult:
    inventory_stored: bool = False
    alerts_opened: list[MachineAlert] = field(default_factory=list)
    alerts_resolved: int = 0
    commands: list[dict] = field(default_factory=list)


def record_heartbeat(
    context: AgentContext,
    metrics: dict | None,
    inventory: SentInventory | None,
    alerts: list[dict] | None,
) -> HeartbeatResult:
    """The hot path. An identical heartbeat writes nothing itself: it notes the
    last-seen time (written behind in batches, see services/presence.py), plus a
    small INSERT when a metric sample is due."""
    now = utcnow()
    result = HeartbeatResult()
    sample = bool(metrics) and metric_sample_due(context.last_sample_at, now)
    if sample:
        presence.touch(context.machine_id, now, sampled=True)
        db.session.connection().execute(
            insert(MetricSample.__table__).values(
                machine_id=context.machine_id,
                taken_at=now,
                cpu_percent=metrics.get("cpuPercent"),
                memory_percent=metrics.get("memoryPercent"),
                disk_free_percent=_min_disk_free(metrics.get("disks")),
                uptime_seconds=metrics.get("uptimeSeconds"),
                logged_user=(metrics.get("loggedUser") or None) and str(metrics["loggedUser"])[:120],
            )
        )
    else:
        presence.note_seen(context.machine_id, now)
    if inventory is not None:
        result.inventory_stored = _note_inventory(context, inventory, now)
    if alerts is not None and (alerts or has_open_alerts(context.machine_id)):
        result.alerts_opened, result.alerts_resolved = sync_alerts(context.machine, alerts, now)
    result.commands = commands_for(context)
    if db.session.registry.has():  # an identical heartbeat never opened a session: nothing to commit
        db.session.commit()
    return result


def _note_inventory(context: AgentContext, inventory: SentInventory, now: datetime) -> bool:
    """Store the inventory if its content changed; whether a snapshot was written."""
    fingerprint = inventory.fingerprint()
    if fingerprint == context.inventory_fingerprint:
        return False  # the same text as the last snapshot's: nothing to parse
    document = inventory.document()
    try:
        content_hash = inventory_hash(document)
    except orjson.JSONEncodeError:  # nested past orjson's 255 levels (past ours too)
        raise api_input.too_deep() from None
    if content_hash != context.inventory_hash:
        # What is stored obeys the body rules (NUL, depth: app/services/api_input.py), checked
        # only here: a walk of a 90 KB inventory costs ~0.5 ms, more than parsing it, and the same
        # content sent again, as the same text or not, equals a snapshot that was checked.
        api_input.check_tree(document, "inventory", depth=2)
        return store_inventory(context.machine, document, now, content_hash, fingerprint=fingerprint)
    if context.inventory_fingerprint is None:
        # A snapshot stored before fingerprints existed: its fingerprint, once per device.
        # (A fingerprint that differs stays as it is: an agent that writes the same content
        # differently on every beat must not cause a write on every beat.)
        db.session.execute(
            update(Machine)
            .where(Machine.id == context.machine_id, Machine.inventory_hash == content_hash)
            .values(inventory_fingerprint=fingerprint, updated_at=Machine.updated_at)
            .execution_options(synchronize_session=False)
        )
    return False


def has_open_alerts(machine_id: int) -> bool:
    return (
        db.session.scalar(
            select(MachineAlert.id)
            .where(MachineAlert.machine_id == machine_id, MachineAlert.resolved_at.is_(None))
            .limit(1)
        )
        is not None
    )


def _min_disk_free(disks) -> float | None:
    values = [
        d.get("freePercent") for d in disks or [] if isinstance(d, dict) and d.get("freePercent") is not None
    ]
    return min(values) if values else None


def store_inventory(
    machine: Machine,
    inventory: dict,
    now: datetime,
    content_hash: str | None = None,
    fingerprint: str | None = None,
) -> bool:
    """Keep a snapshot only when the content changed. Returns whether one was written.
    `fingerprint`: the SentInventory's, for an agent heartbeat (None from any other source)."""
    content_hash = content_hash or inventory_hash(inventory)
    if content_hash == machine.inventory_hash:
        return False
    db.session.add(
        InventorySnapshot(
            machine_id=machine.id, content_hash=content_hash, inventory=inventory, created_at=now
        )
    )
    machine.inventory_hash = content_hash
    machine.inventory_fingerprint = fingerprint
    os_info = inventory.get("os") or {}
    if os_info:
        apply_changes(
            machine,
            {
                "os_name": str(os_info.get("name") or machine.os_name)[:120],
                "os_version": str(os_info.get("version") or machine.os_version)[:60],
                "os_build": str(os_info.get("build") or machine.os_build)[:60],
            },
            commit=False,
        )
    return True


def latest_inventory(machine: Machine, before: int = 0) -> InventorySnapshot | None:
    return db.session.scalar(
        select(InventorySnapshot)
        .where(InventorySnapshot.machine_id == machine.id)
        .order_by(InventorySnapshot.created_at.desc(), InventorySnapshot.id.desc())
        .offset(before)
        .limit(1)
    )


def diff_inventories(old: dict | None, new: dict | None) -> dict:
    """What changed between two inventories, for people: software and disks."""
    old, new = old or {}, new or {}

    def software(inv):
        return {(s.get("name") or "", s.get("version") or "") for s in inv.get("software") or []}

    def disks(inv):
        return {d.get("mount") or d.get("name") or "?": d for d in inv.get("disks") or []}

    before, after = software(old), software(new)
    old_disks, new_disks = disks(old), disks(new)
    changed_disks = []
    for mount in sorted(set(old_disks) | set(new_disks)):
        a, b = old_disks.get(mount), new_disks.get(mount)
        if a is None:
            changed_disks.append({"mount": mount, "change": "adicionado"})
        elif b is None:
            changed_disks.append({"mount": mount, "change": "removido"})
        elif a.get("totalBytes") != b.get("totalBytes"):
            changed_disks.append({"mount": mount, "change": "capacidade alterada"})
    return {
        "software_added": sorted(after - before),
        "software_removed": sorted(before - after),
        "disks": changed_disks,
    }


# --- posture alerts -------------------------------------------------------------

ALERT_LABELS = {
    "cpu_high": "CPU alta",
    "service_stopped": "Serviço parado",
    "smart_failing": "Disco com falha (SMART)",
    "disk_low": "Pouco espaço em disco",
}
SEVERITY_PRIORITY = {
    AlertSeverity.INFO: TicketPriority.MEDIUM,
    AlertSeverity.WARNING: TicketPriority.HIGH,
    AlertSeverity.CRITICAL: TicketPriority.URGENT,
}


def sync_alerts(machine: Machine, reported: list[dict], now: datetime) -> tuple[list[MachineAlert], int]:
    """Open what is newly reported, resolve what is no longer reported; never duplicate."""
    open_alerts = {
        a.kind: a
        for a in db.session.scalars(
            select(MachineAlert).where(
                MachineAlert.machine_id == machine.id, MachineAlert.resolved_at.is_(None)
            )
        )
    }
    reported_by_kind = {str(a["kind"])[:60]: a for a in reported}
    opened = []
    for kind, alert in reported_by_kind.items():
        if kind in open_alerts:
            continue
        record = MachineAlert(
            tenant_id=machine.tenant_id,
            machine_id=machine.id,
            kind=kind,
            severity=AlertSeverity(alert.get("severity", "warning")),
            details=alert.get("details") or {},
            opened_at=now,
        )
        db.session.add(record)
        opened.append(record)
    resolved = 0
    for kind, alert in open_alerts.items():
        if kind not in reported_by_kind:
            alert.resolved_at = now
            resolved += 1
    if opened and current_app.config["MACHINE_ALERTS_CREATE_TICKETS"]:
        db.session.flush()
        for alert in opened:
            alert.ticket_id = _open_alert_ticket(machine, alert).id
    return opened, resolved


def alert_requester(tenant_id: int) -> User:
    """The account alert tickets are opened by (created, unable to log in, if missing)."""
    email = current_app.config["MACHINE_ALERTS_TICKET_REQUESTER_EMAIL"]
    user = find_user(tenant_id, email)
    if user is None:
        user = User(
            tenant_id=tenant_id, email=email, name="Alertas de dispositivos", role=Role.AGENT, is_active=False
        )
        db.session.add(user)
        db.session.flush()
    return user


def _open_alert_ticket(machine: Machine, alert: MachineAlert):
    label = ALERT_LABELS.get(alert.kind, alert.kind)
    # Everything the agent sent is text: escape it before it becomes HTML.
    details = "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in sorted((alert.details or {}).items()))
    description = f"<p>O agente do dispositivo {escape(machine.hostname)} informou: {escape(label)}.</p>"
    ticket = create_ticket(
        tenant_id=machine.tenant_id,
        requester=alert_requester(machine.tenant_id),
        subject=f"Alerta: {label} em {machine.hostname}",
        description_html=description + (f"<ul>{details}</ul>" if details else ""),
        company_id=machine.company_id,
        priority=SEVERITY_PRIORITY[alert.severity],
        machine_id=machine.id,
        commit=False,
    )
    notifications.notify_alert_ticket(ticket, machine)
    return ticket


# --- USB storage policy -----------------------------------------------------------


def set_usb_policy(machine: Machine, mode: str, actor: User) -> UsbPolicy:
    try:
        mode = UsbPolicyMode(mode)
    except ValueError:
        raise ValidationError("Política USB inválida.", field="mode") from None
    policy = db.session.get(UsbPolicy, machine.id)
    if (
        policy is not None
        and policy.mode == mode
        and policy.status in (UsbPolicyStatus.PENDING, UsbPolicyStatus.APPLIED)
    ):
        return policy  # already there or on its way: nothing to write
    if policy is None:
        policy = UsbPolicy(machine_id=machine.id)
        db.session.add(policy)
    policy.mode, policy.status, policy.message = mode, UsbPolicyStatus.PENDING, None
    policy.requested_by_id, policy.requested_at, policy.acknowledged_at = actor.id, utcnow(), None
    db.session.commit()
    return policy


def commands_for(context: AgentContext) -> list[dict]:
    """What the agent must do now: today, apply a pending USB policy."""
    if context.usb_status != UsbPolicyStatus.PENDING:
        return []
    mode = UsbPolicyMode(context.usb_mode).value
    return [{"type": "usb_policy", "mode": mode, "requestedAt": context.usb_requested_at.isoformat()}]


def acknowledge_usb_policy(machine: Machine, status: str, message: str | None) -> UsbPolicy:
    policy = db.session.get(UsbPolicy, machine.id)
    if policy is None or policy.status != UsbPolicyStatus.PENDING:
        raise AgentError(409, "no_pending_policy", "Não há política USB pendente para este dispositivo.")
    if status not in ("APPLIED", "FAILED"):
        raise AgentError(422, "invalid_field", "status deve ser APPLIED ou FAILED.", field="status")
    policy.status = UsbPolicyStatus(status)
    policy.message = (message or "")[:2000] or None
    policy.acknowledged_at = utcnow()
    db.session.commit()
    return policy


def expire_stale_usb_policies(now: datetime | None = None, batch: int = 500) -> int:
    """Mark PENDING policies older than USB_POLICY_STALE_MINUTES as EXPIRED (the cleanup job)."""
    cutoff = (now or utcnow()) - timedelta(minutes=current_app.config["USB_POLICY_STALE_MINUTES"])
    ids = db.session.scalars(
        select(UsbPolicy.machine_id)
        .where(UsbPolicy.status == UsbPolicyStatus.PENDING, UsbPolicy.requested_at < cutoff)
        .limit(batch)
    ).all()
    if ids:
        db.session.execute(
            update(UsbPolicy)
            .where(UsbPolicy.machine_id.in_(ids), UsbPolicy.status == UsbPolicyStatus.PENDING)
            .values(status=UsbPolicyStatus.EXPIRED, message="Sem confirmação do agente no prazo.")
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return len(ids)


# --- admin actions ---------------------------------------------------------------


def get_machine(tenant_id: int, machine_id: int) -> Machine:
    machine = db.session.get(Machine, machine_id)
    if machine is None or machine.tenant_id != tenant_id:
        raise NotFound("Dispositivo não encontrado.")
    return machine


def reset_agent(machine: Machine) -> int:
    """ "Resetar agente": every token stops working at once; the agent must register again."""
    count = revoke_tokens(machine, "reset")
    audit.record(
        "dispositivo.resetar",
        target=machine,
        target_type="dispositivo",
        target_label=machine.hostname,
        changes={"tokens_revogados": [None, count]},
    )
    db.session.commit()
    return count


def adjust_access(machine: Machine, email: str, persona: str) -> User:
    """ "Ajustar acesso": who uses the device and with which persona."""
    try:
        persona = Persona(persona)
    except ValueError:
        raise ValidationError("Persona inválida.", field="persona") from None
    company = db.session.get(Company, machine.company_id) if machine.company_id else None
    if company is None:
        raise ValidationError("O dispositivo não tem empresa.", field="email")
    try:
        user = person_for_device(company, email)
    except AgentError as error:
        raise ValidationError(error.message, field="email") from None
    apply_changes(machine, {"assigned_user_id": user.id, "persona": persona}, commit=False)
    db.session.commit()
    return user


def link_user(machine: Machine, email: str) -> User:
    user = find_user(machine.tenant_id, normalise_email(email))
    if user is None:
        raise ValidationError("Nenhum usuário com este e-mail.", field="email")
    exists = db.session.get(MachineLink, (machine.id, user.id))
    if exists is not None or user.id == machine.assigned_user_id:
        raise Conflict("Este usuário já está vinculado ao dispositivo.")
    db.session.add(MachineLink(machine_id=machine.id, user_id=user.id))
    db.session.commit()
    return user


def unlink_user(machine: Machine, user_id: int) -> None:
    link = db.session.get(MachineLink, (machine.id, user_id))
    if link is None:
        raise NotFound("Vínculo não encontrado.")
    db.session.delete(link)
    db.session.commit()


def remove_throwaway_device(machine: Machine, secret: str | None) -> bool:
    """Delete a device registered only to be checked (`flask smoke`), with the person created for it.

    Needs the provisioning secret besides the device's own token, and refuses a device with history
    (tickets or chats): a stolen token must not erase a real computer. Returns whether the
    person was removed too (only one created by registration: never logged in, nothing else).
    """
    _check_provisioning_secret(secret)
    has_history = db.session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.machine_id == machine.id)
    ) or db.session.scalar(
        select(func.count()).select_from(LiveChatSession).where(LiveChatSession.machine_id == machine.id)
    )
    if has_history:
        raise AgentError(
            409, "device_has_history", "Este dispositivo tem chamados ou chats: remova pelo painel."
        )
    person = machine.assigned_user
    # Explicit, not ON DELETE CASCADE alone: SQLite does not enforce foreign keys here.
    for model in (MachinePresence, MachineToken, MachineIdentifier, MachineLink, InventorySnapshot,
                  MetricSample, MachineAlert, UsbPolicy):  # fmt: skip
        db.session.execute(delete(model).where(model.machine_id == machine.id))
    db.session.delete(machine)
    db.session.flush()
    removed_person = person is not None and _is_unused_registration_person(person)
    if removed_person:
        db.session.delete(person)
    db.session.commit()
    return removed_person


def _is_unused_registration_person(user: User) -> bool:
    if user.password_hash or user.last_login_at or user.role != Role.COLLABORATOR:
        return False
    uses = (
        select(func.count()).select_from(Ticket).where(Ticket.requester_id == user.id),
        select(func.count()).select_from(Machine).where(Machine.assigned_user_id == user.id),
        select(func.count()).select_from(MachineLink).where(MachineLink.user_id == user.id),
    )
    return not any(db.session.scalar(query) for query in uses)


def machines_of_user(user: User) -> list[Machine]:
    """Devices a person uses: assigned to them or linked."""
    linked = select(MachineLink.machine_id).where(MachineLink.user_id == user.id)
    return list(
        db.session.scalars(
            select(Machine)
            .where(
                Machine.tenant_id == user.tenant_id,
                (Machine.assigned_user_id == user.id) | Machine.id.in_(linked),
            )
            .order_by(Machine.hostname)
        )
    )
