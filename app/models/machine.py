"""Devices ("Dispositivos") and everything the agent reports about them.

The heartbeat path is designed so an identical heartbeat never rewrites a wide
row: the last-seen time lives in `machine_presence` (one narrow row per device),
metrics are small append-only samples, and the inventory is stored as a new
snapshot only when its canonical hash changes.
"""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import JSONType, UTCDateTime, utcnow
from app.models.user import Persona, enum_column


class Machine(TenantOwned, db.Model):
    __tablename__ = "machines"
    __table_args__ = (Index("ix_machines_tenant_fingerprint", "tenant_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    hostname: Mapped[str] = mapped_column(String(255))  # as the agent reports it; staff never edit it
    # What staff call it ("Caixa da loja 2") and what they know of it; shown instead of the hostname.
    display_name: Mapped[str | None] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)
    # Hardware identity: re-registering the same hardware finds this record again.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    serial_numbers: Mapped[list] = mapped_column(JSONType, default=list)
    mac_addresses: Mapped[list] = mapped_column(JSONType, default=list)
    os_name: Mapped[str] = mapped_column(String(120), default="")
    os_version: Mapped[str] = mapped_column(String(60), default="")
    os_build: Mapped[str] = mapped_column(String(60), default="")
    os_arch: Mapped[str] = mapped_column(String(20), default="")
    # Who reports it: "agente Chamados", "FusionInventory", "GLPI Agent", comma-separated when several.
    source: Mapped[str] = mapped_column(String(120), default="agente Chamados")
    # Who uses it: the person registered with, and the persona they act with.
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    persona: Mapped[Persona] = mapped_column(enum_column(Persona), default=Persona.COLLABORATOR)
    is_active: Mapped[bool] = mapped_column(default=True)
    inventory_hash: Mapped[str | None] = mapped_column(String(64))
    # The fingerprint of the agent inventory text behind inventory_hash (app/devices/inventory.py,
    # SentInventory), or None when the last snapshot came from elsewhere.
    inventory_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    company = relationship("Company")
    assigned_user = relationship("User", foreign_keys=[assigned_user_id])
    presence = relationship("MachinePresence", uselist=False, viewonly=True)
    linked_users = relationship("User", secondary="machine_links", viewonly=True, order_by="User.name")

    @hybrid_property
    def label(self) -> str:
        """The name people see: the display name staff gave it, else the hostname (in Python
        and, for queries that list or search devices, the same rule in SQL)."""
        return self.display_name or self.hostname

    @label.inplace.expression
    @classmethod
    def _label_sql(cls):
        return func.coalesce(cls.display_name, cls.hostname)

    def __repr__(self) -> str:
        return f"<Machine {self.hostname}>"


class MachinePresence(db.Model):
    """The one row a heartbeat always writes: narrow on purpose.

    No index on its time columns, so PostgreSQL can update it in place (a HOT
    update: no index entries rewritten); the online filter reads it by machine_id.
    """

    __tablename__ = "machine_presence"

    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the last metric sample was kept: samples are taken every METRIC_SAMPLE_SECONDS, not every beat.
    last_sample_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Online as the live screens were last told (devices.online.note_online_changes); None: not yet.
    online_noted: Mapped[bool | None]


class MachineIdentifier(TenantOwned, db.Model):
    """One thing that identifies a device's hardware within a tenant.

    Kinds: "deviceid" (FusionInventory / GLPI Agent), "uuid" (SMBIOS), "serial"
    (BIOS), "mac". Every source of inventory records what it saw here, so the
    same computer reporting through our agent and through FusionInventory is
    found as one device (app.devices.identity.find_machine_by_identifiers).
    """

    __tablename__ = "machine_identifiers"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "value", name="uq_machine_identifiers_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MachineLink(db.Model):
    """Extra people linked to a device ("Usuários vinculados"), besides the assigned one."""

    __tablename__ = "machine_links"

    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MachineToken(db.Model):
    """A device token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "machine_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(60))


class InventorySnapshot(db.Model):
    """A full inventory, kept only when it differs from the previous one. On PostgreSQL the
    table is partitioned by created_at, one partition a week (app/services/partitions.py)."""

    __tablename__ = "inventory_snapshots"
    __table_args__ = (Index("ix_inventory_snapshots_machine_created", "machine_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"))
    content_hash: Mapped[str] = mapped_column(String(64))
    inventory: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class MetricSample(db.Model):
    """A few numbers per heartbeat, for the 24-hour charts."""

    __tablename__ = "metric_samples"
    __table_args__ = (Index("ix_metric_samples_machine_taken", "machine_id", "taken_at"),)

    # 64-bit on PostgreSQL: at 28.8 million samples a day a 32-bit id runs out in 75 days.
    # There the table is partitioned by taken_at (app/services/partitions.py, migration 0020),
    # so its primary key is (id, taken_at); ids still come from one sequence.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    cpu_percent: Mapped[float | None] = mapped_column()
    memory_percent: Mapped[float | None] = mapped_column()
    disk_free_percent: Mapped[float | None] = mapped_column()
    uptime_seconds: Mapped[int | None] = mapped_column()
    logged_user: Mapped[str | None] = mapped_column(String(120))


class AlertSeverity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def label(self) -> str:
        return {"info": "Informativo", "warning": "Atenção", "critical": "Crítico"}[self.value]


class MachineAlert(TenantOwned, db.Model):
    """A posture alert. At most one open alert per kind and device."""

    __tablename__ = "machine_alerts"
    __table_args__ = (
        Index(
            "uq_machine_alerts_open_kind",
            "machine_id",
            "kind",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
            sqlite_where=text("resolved_at IS NULL"),
        ),
        Index("ix_machine_alerts_tenant_opened", "tenant_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    severity: Mapped[AlertSeverity] = mapped_column(enum_column(AlertSeverity), default=AlertSeverity.WARNING)
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))


class UsbPolicyMode(enum.StrEnum):
    ALLOW = "ALLOW"
    BLOCK = "BLOCK"
    READ_ONLY = "READ_ONLY"

    @property
    def label(self) -> str:
        return {"ALLOW": "Permitir", "BLOCK": "Bloquear", "READ_ONLY": "Somente leitura"}[self.value]


class UsbPolicyStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPLIED = "APPLIED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"

    @property
    def label(self) -> str:
        return {"PENDING": "Pendente", "APPLIED": "Aplicada", "FAILED": "Falhou", "EXPIRED": "Expirada"}[
            self.value
        ]


class UsbPolicy(db.Model):
    """The USB storage policy of a device and where its delivery stands."""

    __tablename__ = "usb_policies"

    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[UsbPolicyMode] = mapped_column(enum_column(UsbPolicyMode))
    status: Mapped[UsbPolicyStatus] = mapped_column(enum_column(UsbPolicyStatus), index=True)
    message: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
