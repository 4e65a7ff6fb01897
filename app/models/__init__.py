"""All models, imported here so Alembic and the app see the whole schema."""

from app.models.audit import AuditLog
from app.models.canned_reply import CannedReply
from app.models.chat import ChatMessage, ChatSessionStatus, LiveChatSession
from app.models.company import Company, generate_provisioning_code
from app.models.email import EmailMessage, EmailStatus
from app.models.feed import ChangeEvent
from app.models.jobs import ExportStatus, JobRun, JobRunStatus, ReportExport
from app.models.machine import (
    AlertSeverity,
    InventorySnapshot,
    Machine,
    MachineAlert,
    MachineIdentifier,
    MachineLink,
    MachinePresence,
    MachineToken,
    MetricSample,
    Persona,
    UsbPolicy,
    UsbPolicyMode,
    UsbPolicyStatus,
)
from app.models.queue import DEFAULT_QUEUE_NAME, Queue
from app.models.saved_view import SavedView
from app.models.tenant import Tenant
from app.models.ticket import (
    OPEN_STATUSES,
    OPEN_TICKET_SQL,
    OPEN_UNANSWERED_SQL,
    OPEN_UNASSIGNED_SQL,
    Attachment,
    Comment,
    CommentVisibility,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
)
from app.models.user import STAFF_ROLES, PasswordResetToken, RecoveryCode, Role, User, UserAlias

__all__ = [
    "DEFAULT_QUEUE_NAME",
    "OPEN_STATUSES",
    "OPEN_TICKET_SQL",
    "OPEN_UNANSWERED_SQL",
    "OPEN_UNASSIGNED_SQL",
    "STAFF_ROLES",
    "AlertSeverity",
    "Attachment",
    "AuditLog",
    "CannedReply",
    "ChangeEvent",
    "ChatMessage",
    "ChatSessionStatus",
    "Comment",
    "CommentVisibility",
    "Company",
    "EmailMessage",
    "EmailStatus",
    "ExportStatus",
    "InventorySnapshot",
    "JobRun",
    "JobRunStatus",
    "LiveChatSession",
    "Machine",
    "MachineAlert",
    "MachineIdentifier",
    "MachineLink",
    "MachinePresence",
    "MachineToken",
    "MetricSample",
    "PasswordResetToken",
    "Persona",
    "Queue",
    "RecoveryCode",
    "ReportExport",
    "Role",
    "SavedView",
    "Tenant",
    "Ticket",
    "TicketEvent",
    "TicketPriority",
    "TicketStatus",
    "UsbPolicy",
    "UsbPolicyMode",
    "UsbPolicyStatus",
    "User",
    "UserAlias",
    "generate_provisioning_code",
]
