from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class Machine(db.Model):
    """A computer with the desktop agent ("Dispositivo").

    The foundation holds only its identity so tickets can link to it; tokens,
    heartbeats and inventory are added by the devices work.
    """

    __tablename__ = "machines"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    hostname: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    company = relationship("Company")

    def __repr__(self) -> str:
        return f"<Machine {self.hostname}>"
