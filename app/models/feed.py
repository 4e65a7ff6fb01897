"""The change feed: one row per committed change a screen shows, numbered per tenant.

Rows carry ids, not data: a screen fetches what it may see. `requester_id`, `company_id` and
`internal` are there so the feed can decide, without a query, which portal screens hear of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import UTCDateTime, utcnow


class ChangeEvent(TenantOwned, db.Model):
    __tablename__ = "change_events"
    __table_args__ = (
        Index("uq_change_events_tenant_seq", "tenant_id", "seq", unique=True),
        Index("ix_change_events_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    # 1, 2, 3... per tenant, in commit order (handed out under the tenant row's lock).
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int | None]
    ticket_reference: Mapped[int | None]
    machine_id: Mapped[int | None]
    requester_id: Mapped[int | None]
    company_id: Mapped[int | None]
    internal: Mapped[bool] = mapped_column(default=False)  # staff only (an internal comment, a device's)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
