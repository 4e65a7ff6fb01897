"""Live chat between a support agent and a device, attached to a ticket.

Rules (seed 004, liveChat.ts) live in app/chat/. The shapes here
are chosen so that the busy path stays narrow: posting a message is one INSERT
plus one UPDATE of the session row, and the per-ticket message number is handed
out by that same UPDATE (row lock), so numbers follow commit order.
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import UTCDateTime, utcnow
from app.models.user import enum_column


class ChatSessionStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"

    @property
    def label(self) -> str:
        return "Ativa" if self is ChatSessionStatus.ACTIVE else "Encerrada"


ACTIVE_SESSION_SQL = "status = 'ACTIVE'"

# Why the cleanup ended a chat (the seed's reason codes) and how the timeline says it.
CHAT_END_REASONS = {
    "ticket_sem_maquina": "chamado sem dispositivo vinculado",
    "inatividade_chat": "12 horas sem atividade",
    "maquina_offline": "dispositivo offline",
}


class LiveChatSession(TenantOwned, db.Model):
    __tablename__ = "live_chat_sessions"
    __table_args__ = (
        # At most one ACTIVE session per ticket, enforced by the database.
        Index(
            "uq_live_chat_sessions_active_ticket",
            "ticket_id",
            unique=True,
            postgresql_where=text(ACTIVE_SESSION_SQL),
            sqlite_where=text(ACTIVE_SESSION_SQL),
        ),
        Index("ix_live_chat_sessions_ticket_started", "ticket_id", "started_at"),
        Index("ix_live_chat_sessions_tenant_status", "tenant_id", "status"),
        Index("ix_live_chat_sessions_machine_status", "machine_id", "status"),
        Index("ix_live_chat_sessions_status_activity", "status", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Snapshot of the agent's name, as the seed keeps it (the user may be renamed later).
    agent_name: Mapped[str] = mapped_column(String(120))
    status: Mapped[ChatSessionStatus] = mapped_column(
        enum_column(ChatSessionStatus), default=ChatSessionStatus.ACTIVE
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    unread_by_machine: Mapped[int] = mapped_column(default=0)
    unread_by_agent: Mapped[int] = mapped_column(default=0)
    # Last message number handed out on this ticket (carried over from the previous session).
    last_seq: Mapped[int] = mapped_column(default=0)

    ticket = relationship("Ticket")
    machine = relationship("Machine")

    @property
    def is_active(self) -> bool:
        return self.status == ChatSessionStatus.ACTIVE


class ChatMessage(TenantOwned, db.Model):
    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("ticket_id", "seq", name="uq_chat_messages_ticket_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_chat_sessions.id", ondelete="CASCADE"), index=True
    )
    # The message number within the ticket: what clients see as the message id.
    seq: Mapped[int] = mapped_column()
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    author_name: Mapped[str] = mapped_column(String(120))
    # Decided when written, by the seed's device-user rule (see app/chat/messages.speaker_id).
    from_machine: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attachments = relationship("Attachment", order_by="Attachment.id", viewonly=True)

    # Not a column: the JSON broadcast for a message just posted, kept so callers
    # need not reload the row after the commit.
    published = None
