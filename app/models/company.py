import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import UTCDateTime, utcnow


def generate_provisioning_code() -> str:
    """A code a person can type into the agent installer: 12 chars, no look-alikes."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


class Company(TenantOwned, db.Model):
    """A client company whose people and computers the tenant supports."""

    __tablename__ = "companies"
    __table_args__ = (UniqueConstraint("tenant_id", "apelido"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    # The short name staff use everywhere ("Apelido"); unique inside a tenant.
    apelido: Mapped[str] = mapped_column(String(60))
    # Globally unique: the agent registers with this code alone.
    provisioning_code: Mapped[str] = mapped_column(
        String(32), unique=True, default=generate_provisioning_code
    )
    cnpj: Mapped[str | None] = mapped_column(String(18))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tenant = relationship("Tenant")

    def __repr__(self) -> str:
        return f"<Company {self.apelido}>"
