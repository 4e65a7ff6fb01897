from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import UTCDateTime, utcnow
from app.services.html import sanitize_html


class CannedReply(TenantOwned, db.Model):
    """A resposta pronta: text the tenant's staff insert in a comment, with variables
    ({solicitante}, {numero}, {responsavel}, {empresa}) filled for the ticket
    (app/services/canned_replies.py)."""

    __tablename__ = "canned_replies"
    __table_args__ = (UniqueConstraint("tenant_id", "title", name="uq_canned_replies_tenant_title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    title: Mapped[str] = mapped_column(String(80))
    body_html: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("body_html")
    def _sanitize_body(self, _key, value):
        return sanitize_html(value)

    def __repr__(self) -> str:
        return f"<CannedReply {self.title}>"
