from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import UTCDateTime, utcnow

DEFAULT_QUEUE_NAME = "Chamados"


class Queue(TenantOwned, db.Model):
    """A ticket queue ("fila"). "Chamados" always exists and is the default."""

    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_QUEUE_NAME

    def __repr__(self) -> str:
        return f"<Queue {self.name}>"
