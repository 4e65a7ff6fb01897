from datetime import datetime

from sqlalchemy import String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class Tenant(db.Model):
    """A support organisation using Chamados; every other row belongs to one."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Internal identifier for CLI and configuration; never shown to users.
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Sao_Paulo")
    # Last ticket reference handed out; see services.tickets.next_reference.
    ticket_sequence: Mapped[int] = mapped_column(default=0)
    # Last change feed number handed out; see services.feed.
    change_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Optional HTTP basic auth for FusionInventory / GLPI Agent inventories (password Argon2-hashed).
    inventory_username: Mapped[str | None] = mapped_column(String(120))
    inventory_password_hash: Mapped[str | None] = mapped_column(String(255))
    # Staff must sign in with a second factor (TOTP): those without one enrol right after signing in.
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    def __repr__(self) -> str:
        return f"<Tenant {self.key}>"
