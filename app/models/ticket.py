import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import JSONType, UTCDateTime, utcnow
from app.models.user import enum_column
from app.services.html import html_to_text, sanitize_html


class TicketStatus(enum.StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    PAUSED = "PAUSED"
    RESOLVED = "RESOLVED"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def css(self) -> str:
        return STATUS_CSS[self]


STATUS_LABELS = {
    TicketStatus.PENDING: "Pendente",
    TicketStatus.IN_PROGRESS: "Em andamento",
    TicketStatus.PAUSED: "Pausado",
    TicketStatus.RESOLVED: "Resolvido",
}
# The seed's colours: Pendente grey, Em andamento blue, Pausado yellow, Resolvido green.
STATUS_CSS = {
    TicketStatus.PENDING: "badge-grey",
    TicketStatus.IN_PROGRESS: "badge-blue",
    TicketStatus.PAUSED: "badge-yellow",
    TicketStatus.RESOLVED: "badge-green",
}
OPEN_STATUSES = (TicketStatus.PENDING, TicketStatus.IN_PROGRESS, TicketStatus.PAUSED)
# Literal SQL (no bound parameters) so PostgreSQL can match the partial indexes below.
OPEN_TICKET_SQL = "tickets.status IN ('PENDING', 'IN_PROGRESS', 'PAUSED')"
OPEN_UNASSIGNED_SQL = f"tickets.assignee_id IS NULL AND {OPEN_TICKET_SQL}"
OPEN_UNANSWERED_SQL = f"tickets.first_response_at IS NULL AND {OPEN_TICKET_SQL}"


class TicketPriority(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"

    @property
    def label(self) -> str:
        return PRIORITY_LABELS[self]


PRIORITY_RANKS = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "URGENT": 4}

PRIORITY_LABELS = {
    TicketPriority.LOW: "Baixa",
    TicketPriority.MEDIUM: "Média",
    TicketPriority.HIGH: "Alta",
    TicketPriority.URGENT: "Urgente",
}


class CommentVisibility(enum.StrEnum):
    PUBLIC = "PUBLIC"
    INTERNAL = "INTERNAL"

    @property
    def label(self) -> str:
        return "Público" if self is CommentVisibility.PUBLIC else "Interno"


class Ticket(TenantOwned, db.Model):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "reference"),
        # The list's common shapes, newest first and a keyset page deep: by status, and by
        # assignee, company or queue with or without a status; the list reads one of these per
        # status (ticket_pages.page_query). A queue belongs to one tenant, so its index needs
        # no tenant_id; leading with queue_id it also serves the queue's foreign key (migration 0018).
        Index("ix_tickets_tenant_status_created_id", "tenant_id", "status", "created_at", "id"),
        Index(
            "ix_tickets_tenant_assignee_status_created",
            "tenant_id",
            "assignee_id",
            "status",
            "created_at",
            "id",
        ),
        Index(
            "ix_tickets_tenant_company_status_created",
            "tenant_id",
            "company_id",
            "status",
            "created_at",
            "id",
        ),
        Index("ix_tickets_queue_status_created", "queue_id", "status", "created_at", "id"),
        # Keyset pagination: every sortable column is indexed together with id.
        Index("ix_tickets_tenant_created_id", "tenant_id", "created_at", "id"),
        Index("ix_tickets_tenant_updated_id", "tenant_id", "updated_at", "id"),
        Index("ix_tickets_tenant_priority_id", "tenant_id", "priority_rank", "id"),
        Index("ix_tickets_tenant_resolved", "tenant_id", "resolved_at"),
        # Most tickets of a helpdesk are resolved; the Painel only reads the open ones.
        Index(
            "ix_tickets_open_created",
            "tenant_id",
            "created_at",
            "id",
            postgresql_where=text(OPEN_TICKET_SQL),
            sqlite_where=text(OPEN_TICKET_SQL),
        ),
        Index(
            "ix_tickets_open_unassigned",
            "tenant_id",
            "created_at",
            "id",
            postgresql_where=text(OPEN_UNASSIGNED_SQL),
            sqlite_where=text(OPEN_UNASSIGNED_SQL),
        ),
        # The Painel's "Sem primeira resposta": open tickets nobody answered yet, a handful.
        Index(
            "ix_tickets_open_unanswered",
            "tenant_id",
            "created_at",
            postgresql_where=text(OPEN_UNANSWERED_SQL),
            sqlite_where=text(OPEN_UNANSWERED_SQL),
        ),
        Index("ix_tickets_tenant_requester", "tenant_id", "requester_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    # Human reference ("#1234"), sequential per tenant.
    reference: Mapped[int] = mapped_column()
    subject: Mapped[str] = mapped_column(String(200))
    description_html: Mapped[str] = mapped_column(Text, default="")
    # Plain text of the description, kept in step by the validator: what search reads.
    description_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus), default=TicketStatus.PENDING)
    priority: Mapped[TicketPriority] = mapped_column(
        enum_column(TicketPriority), default=TicketPriority.MEDIUM
    )
    # 1 (Baixa) .. 4 (Urgente): lets "sort by priority" use an index.
    priority_rank: Mapped[int] = mapped_column(default=PRIORITY_RANKS["MEDIUM"])
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"), index=True)
    # Set when a live chat is first started on the ticket (seed: chatEnabled).
    chat_enabled: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Worked time: closed intervals Em andamento, plus the open one since in_progress_since.
    worked_seconds: Mapped[int] = mapped_column(default=0)
    in_progress_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written to a JSONL archive (flask tickets archive); cleared when reopened.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    queue = relationship("Queue")
    company = relationship("Company")
    requester = relationship("User", foreign_keys=[requester_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    machine = relationship("Machine")

    @validates("description_html")
    def _sanitize_description(self, _key, value):
        clean = sanitize_html(value)
        self.description_text = html_to_text(clean)
        return clean

    @validates("priority")
    def _rank_priority(self, _key, value):
        self.priority_rank = PRIORITY_RANKS[TicketPriority(value).value]
        return value

    @property
    def worked_seconds_now(self) -> int:
        """Time spent Em andamento, including the interval still running."""
        total = self.worked_seconds or 0
        if self.status == TicketStatus.IN_PROGRESS and self.in_progress_since:
            total += int((utcnow() - self.in_progress_since).total_seconds())
        return total

    def __repr__(self) -> str:
        return f"<Ticket #{self.reference} {self.status}>"


class TicketEvent(db.Model):
    """One entry of a ticket's timeline (status change, assignment, ...)."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_created", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor = relationship("User")


class Comment(db.Model):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_ticket_created", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body_html: Mapped[str] = mapped_column(Text)
    visibility: Mapped[CommentVisibility] = mapped_column(
        enum_column(CommentVisibility), default=CommentVisibility.PUBLIC
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author = relationship("User")
    attachments = relationship("Attachment", order_by="Attachment.id", viewonly=True)

    @validates("body_html")
    def _sanitize_body(self, _key, value):
        return sanitize_html(value)


class Attachment(TenantOwned, db.Model):
    """Metadata of a stored file; the bytes live under UPLOAD_DIR at `storage_key`."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"), index=True)
    # A file sent in the live chat: served only to the chat's participants.
    chat_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), index=True
    )
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket = relationship("Ticket")
    comment = relationship("Comment")
