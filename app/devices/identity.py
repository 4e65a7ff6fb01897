"""What identifies a computer, and the one find-or-create of a device.

Every inventory source (our agent's registration, FusionInventory, GLPI Agent) finds its
device with `upsert_device`: by the hardware fingerprint when the source has one, then by
its identifiers, strongest kind first (MachineIdentifier), always within the tenant. So a
computer reporting through two sources is one device.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select

from app.devices import presence
from app.devices.tokens import device_disabled
from app.extensions import db
from app.models import Company, Machine, MachineIdentifier, MachinePresence
from app.services.changes import apply_changes

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


def hardware_fingerprint(serials: list[str], macs: list[str]) -> str | None:
    """Serial numbers identify hardware best; MAC addresses when there are none."""
    basis = normalise_serials(serials) and ["s:" + s for s in normalise_serials(serials)]
    basis = basis or ["m:" + m for m in normalise_macs(macs)]
    if not basis:
        return None
    return hashlib.sha256("|".join(basis).encode()).hexdigest()


def find_machine_by_identifiers(identifiers: dict[str, list[str]]) -> Machine | None:
    """The current tenant's device any identifier names, trying the strongest kind first."""
    for kind in IDENTIFIER_KINDS:
        values = identifiers.get(kind)
        if not values:
            continue
        machine = db.session.scalar(
            select(Machine)
            .join(MachineIdentifier, MachineIdentifier.machine_id == Machine.id)
            .where(MachineIdentifier.kind == kind, MachineIdentifier.value.in_(values))
            .order_by(Machine.id)
            .limit(1)
        )
        if machine is not None:
            return machine
    return None


def find_machine(identifiers: dict[str, list[str]], fingerprint: str | None = None) -> Machine | None:
    """The matching rules, among the current tenant's devices: the fingerprint (when the source
    has one), then the identifiers."""
    machine = None
    if fingerprint:
        machine = db.session.scalar(
            select(Machine).where(Machine.fingerprint == fingerprint).order_by(Machine.id)
        )
    if machine is None:
        # Known by another source (FusionInventory, GLPI Agent) or by part of its hardware.
        machine = find_machine_by_identifiers(identifiers)
    return machine


def remember_identifiers(machine: Machine, identifiers: dict[str, list[str]]) -> int:
    """Record identifiers not known yet; one that another device already holds stays with it.
    Reads first, so an unchanged device writes nothing."""
    wanted = {(kind, value) for kind, values in identifiers.items() for value in values}
    if not wanted:
        return 0
    known = set(
        db.session.execute(
            select(MachineIdentifier.kind, MachineIdentifier.value).where(
                MachineIdentifier.value.in_({value for _, value in wanted})
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


def upsert_device(
    company: Company,
    identifiers: dict[str, list[str]],
    *,
    source: str,
    now: datetime,
    fields: dict,
    fingerprint: str | None = None,
    fields_if_new: dict | None = None,
    fill_if_empty: dict | None = None,
) -> tuple[Machine, bool]:
    """Find the company's tenant's device (`find_machine`) or create it in the company; mark it
    seen and remember its identifiers. Returns (device, created).

    `fields` are written either way (only what changed: apply_changes), `fields_if_new` only
    on a new device, `fill_if_empty` on a new device, or where a known one has nothing yet.
    A deactivated device is refused (403 machine_disabled)."""
    machine = find_machine(identifiers, fingerprint)
    if machine is not None and not machine.is_active:
        raise device_disabled()
    values = {
        "company_id": company.id,
        **fields,
        "source": with_source(machine.source if machine else None, source),
    }
    created = machine is None
    if created:
        machine = Machine(
            tenant_id=company.tenant_id,
            created_at=now,
            **(fill_if_empty or {}),
            **(fields_if_new or {}),
            **values,
        )
        db.session.add(machine)
        db.session.flush()
        db.session.add(MachinePresence(machine_id=machine.id, last_seen_at=now))
    else:
        for name, value in (fill_if_empty or {}).items():
            if not getattr(machine, name) and value:
                values[name] = value
        apply_changes(machine, values)
        presence.touch(machine.id, now)
    remember_identifiers(machine, identifiers)
    return machine, created
