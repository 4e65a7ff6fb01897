"""Inventory snapshots, from any source: kept only when the content changed.

An agent heartbeat's inventory arrives as text (`SentInventory`) and is parsed only when
its fingerprint differs from the last snapshot's; FusionInventory and GLPI Agent send a
parsed document (app/devices/external_inventory.py). Either way `store_inventory` decides
by the canonical hash, so an unchanged inventory writes no inventory bytes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson
import xxhash
from sqlalchemy import select

from app.extensions import db
from app.models import InventorySnapshot, Machine
from app.services import api_input
from app.services.changes import apply_changes

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
        depth) is checked before a snapshot is stored (heartbeats._note_inventory)."""
        return {name: _part(text) for name, text in self.parts.items()}


def _part(text):
    try:
        return orjson.loads(memoryview(text))
    except orjson.JSONDecodeError as error:
        raise api_input.refusal_for(memoryview(text), error) from None


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
