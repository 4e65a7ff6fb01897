"""Live chat rules (seed 004, liveChat.ts), used by the staff pages, the
websocket, the device JSON API and the cleanup job alike.

Every write commits before anything is broadcast: a receiver that is offline,
or an event that is lost, costs nothing, because clients resume from the last
message number they saw and read the rest from the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Integer, String, Text, bindparam, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from app import db_direct
from app.chat_broker import get_broker, machine_channel, tenant_channel, ticket_channel
from app.extensions import db
from app.models import (
    STAFF_ROLES,
    Attachment,
    ChatMessage,
    ChatSessionStatus,
    LiveChatSession,
    Machine,
    MachineLink,
    MachinePresence,
    Ticket,
    User,
)
from app.models.types import UTCDateTime, utcnow
from app.services import attachments as attachment_service
from app.services import machines as machine_service
from app.services.errors import DomainError
from app.services.numbers import INT32_MAX
from app.services.permissions import can_view_ticket
from app.services.tickets import record_event

MAX_BODY_CHARS = 4000
DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_MACHINE_SESSIONS = 50
MAX_AGENT_SESSIONS = 100
HISTORY_SESSIONS = 50
HISTORY_MESSAGES = 500
MARK_READ_MAX = 50
CHAT_INACTIVITY = timedelta(hours=12)
AUTO_END_BATCH = 50

# The seed's lists (generateMachineUploadUrl): extensions, declared MIME types, 10 MB.
CHAT_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "webp", "pdf", "txt", "doc", "docx", "xls", "xlsx"})
CHAT_MIME_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)
CHAT_MAX_BYTES = 10 * 1024 * 1024


class ChatError(DomainError):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message, field=field, code=code)
        self.status = status


# --- who is who -----------------------------------------------------------------


def speaker_id(machine_id, requester_id):
    """The seed's device-user rule as one SQL expression: the device's assigned user, else
    its first linked user, else the ticket's requester. A message written by this user is
    "from the machine". Used by the statements that store a message (_insert_message)."""
    assigned = select(Machine.assigned_user_id).where(Machine.id == machine_id).scalar_subquery()
    first_linked = (
        select(MachineLink.user_id)
        .where(MachineLink.machine_id == machine_id)
        .order_by(MachineLink.created_at, MachineLink.user_id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(assigned, first_linked, requester_id)


def may_chat(user: User | None, ticket: Ticket) -> bool:
    """Staff (admin, manager, agent) of the ticket's tenant who may see the ticket."""
    return user is not None and user.is_active and user.role in STAFF_ROLES and can_view_ticket(user, ticket)


def require_chat_permission(actor: User | None, ticket: Ticket, action: str = "usar o chat ao vivo") -> None:
    if actor is None or not actor.is_active or actor.role not in STAFF_ROLES:
        raise ChatError(403, "forbidden", f"Apenas agentes de suporte podem {action}.")
    if not can_view_ticket(actor, ticket):
        raise ChatError(404, "ticket_not_found", "Chamado não encontrado.")


@dataclass(frozen=True, slots=True)
class ChatTicket:
    """What the chat needs of a ticket. Every frame of a socket looks its ticket up, so this
    is one read of six columns rather than a Ticket loaded into the session."""

    id: int
    tenant_id: int
    reference: int
    machine_id: int | None
    requester_id: int
    company_id: int | None


_CHAT_TICKET = select(
    Ticket.id, Ticket.tenant_id, Ticket.reference, Ticket.machine_id, Ticket.requester_id, Ticket.company_id
).where(Ticket.tenant_id == bindparam("tenant_id"), Ticket.reference == bindparam("reference"))


def _is_reference(reference: int) -> bool:
    """A number a ticket could have: past an INTEGER column's range no ticket has it, and
    PostgreSQL refuses to compare the column with it (NumericValueOutOfRange)."""
    return 0 < reference <= INT32_MAX


def ticket_for_machine(context_machine_id: int, tenant_id: int, reference: int) -> ChatTicket:
    """A ticket a device may chat on: same tenant (else 404) and linked to this device (else 403)."""
    row = None
    if _is_reference(reference):
        row = db_direct.first_row(_CHAT_TICKET, {"tenant_id": tenant_id, "reference": reference})
    if row is None:
        raise ChatError(404, "ticket_not_found", "Chamado não encontrado.")
    ticket = ChatTicket(*row)
    if ticket.machine_id != context_machine_id:
        raise ChatError(403, "ticket_not_linked", "Este dispositivo não está vinculado a este chamado.")
    return ticket


def ticket_for_staff(user: User | None, reference: int) -> ChatTicket:
    """A ticket of the user's tenant that the user may chat on (else 404)."""
    row = None
    if user is not None and _is_reference(reference):
        row = db_direct.first_row(_CHAT_TICKET, {"tenant_id": user.tenant_id, "reference": reference})
    ticket = ChatTicket(*row) if row else None
    if ticket is None or not may_chat(user, ticket):
        raise ChatError(404, "ticket_not_found", "Chamado não encontrado.")
    return ticket


def active_session(ticket_id: int) -> LiveChatSession | None:
    return db.session.scalar(
        select(LiveChatSession).where(
            LiveChatSession.ticket_id == ticket_id, LiveChatSession.status == ChatSessionStatus.ACTIVE
        )
    )


def machine_last_seen(machine_id: int | None) -> datetime | None:
    if machine_id is None:
        return None
    return db.session.scalar(
        select(MachinePresence.last_seen_at).where(MachinePresence.machine_id == machine_id)
    )


# --- sessions ---------------------------------------------------------------------


def start_session(actor: User, ticket: Ticket) -> tuple[LiveChatSession, bool]:
    """Start (or return the already active) chat of a ticket. Returns (session, is_new)."""
    require_chat_permission(actor, ticket, "iniciar chat ao vivo")
    if ticket.machine_id is None:
        raise ChatError(409, "ticket_without_machine", "Este chamado não está vinculado a um dispositivo.")
    existing = active_session(ticket.id)
    if existing is not None:
        return existing, False
    if not machine_service.is_online(machine_last_seen(ticket.machine_id)):
        raise ChatError(
            409,
            "machine_offline",
            "Dispositivo offline. O dispositivo precisa estar online para iniciar o chat.",
        )
    now = utcnow()
    last_seq = (
        db.session.scalar(select(func.max(ChatMessage.seq)).where(ChatMessage.ticket_id == ticket.id)) or 0
    )
    session = LiveChatSession(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        machine_id=ticket.machine_id,
        agent_id=actor.id,
        agent_name=actor.name,
        started_at=now,
        last_activity_at=now,
        last_seq=last_seq,
    )
    db.session.add(session)
    try:
        db.session.flush()
    except IntegrityError:
        # Someone started it a moment ago: the unique index keeps one ACTIVE session.
        db.session.rollback()
        existing = active_session(ticket.id)
        if existing is None:
            raise
        return existing, False
    ticket.chat_enabled = True
    record_event(
        ticket,
        "LIVE_CHAT_STARTED",
        actor,
        sessionId=session.id,
        agentId=actor.id,
        agentName=actor.name,
        machineHostname=ticket.machine.hostname if ticket.machine else None,
    )
    db.session.commit()
    _publish_session_change(session, ticket, "started")
    return session, True


def end_session(actor: User, ticket: Ticket) -> LiveChatSession:
    """Only staff end a chat; ending one that is no longer active is a 409."""
    require_chat_permission(actor, ticket, "encerrar sessões de chat")
    session = active_session(ticket.id)
    if session is None:
        raise ChatError(409, "session_not_active", "Sessão já encerrada.")
    _close(session, ticket, actor_id=actor.id, actor_name=actor.name, actor=actor)
    db.session.commit()
    _publish_session_change(session, ticket, "ended")
    return session


def _close(session, ticket, *, actor_id, actor_name, actor=None, reason=None, now=None) -> bool:
    """Mark ENDED (only if still ACTIVE) and write LIVE_CHAT_ENDED. False if someone was faster."""
    now = now or utcnow()
    ended = db.session.execute(
        update(LiveChatSession)
        .where(LiveChatSession.id == session.id, LiveChatSession.status == ChatSessionStatus.ACTIVE)
        .values(status=ChatSessionStatus.ENDED, ended_at=now, end_reason=reason or "encerrado_pelo_agente")
        .execution_options(synchronize_session=False)
    ).rowcount
    if not ended:
        if reason is None:
            raise ChatError(409, "session_not_active", "Sessão já encerrada.")
        return False
    payload = {
        "sessionId": session.id,
        "agentId": actor_id,
        "agentName": actor_name,
        "durationMs": int((now - session.started_at).total_seconds() * 1000),
        "startedAt": session.started_at.isoformat(),
        "endedAt": now.isoformat(),
    }
    if reason:
        payload.update(autoEnded=True, reason=reason)
        if reason == "inatividade_chat":
            payload["inactiveForMs"] = int((now - session.last_activity_at).total_seconds() * 1000)
    record_event(ticket, "LIVE_CHAT_ENDED", actor, **payload)
    db.session.refresh(session)
    return True


def _publish_session_change(session: LiveChatSession, ticket: Ticket, event: str) -> None:
    payload = {
        "kind": "session",
        "event": event,
        "ticket": ticket.reference,
        "ticketId": ticket.id,
        "firstSeq": session.last_seq,
    }
    events = [(ticket_channel(ticket.id), payload)]
    if session.machine_id:
        events.append((machine_channel(session.machine_id), payload))
    events.append((tenant_channel(session.tenant_id), {"kind": "sessions"}))
    get_broker(current_app).publish_all(events)


# --- messages ---------------------------------------------------------------------


@dataclass
class IncomingFile:
    filename: str
    data: bytes
    declared_type: str | None = None


def message_too_long() -> ChatError:
    """The seed's refusal, word for word (the agent API's schema check answers with it too)."""
    return ChatError(
        422, "message_too_long", f"Mensagem muito longa (máximo {MAX_BODY_CHARS} caracteres)", "body"
    )


def _clean_body(body: str | None, has_files: bool) -> str:
    # As the seed: the length as sent, before trimming.
    if len(body or "") > MAX_BODY_CHARS:
        raise message_too_long()
    body = (body or "").strip()
    if "\x00" in body:  # PostgreSQL cannot store it (a form or a socket frame can carry one)
        raise ChatError(422, "invalid_field", "Campo inválido: body (caractere NUL não é aceito).", "body")
    if not body and not has_files:
        raise ChatError(422, "message_empty", "Escreva uma mensagem ou anexe um arquivo.", "body")
    return body


def check_chat_file(file: IncomingFile) -> None:
    """The seed's upload rules, plus a look at the content (a `.png` must be a PNG)."""
    declared = (file.declared_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream" and declared not in CHAT_MIME_TYPES:
        raise ChatError(422, "file_type_not_allowed", "Tipo MIME não permitido.", "file")
    try:
        attachment_service.check_upload(
            file.filename, file.data, allowed=CHAT_EXTENSIONS, max_bytes=CHAT_MAX_BYTES
        )
    except attachment_service.FileTooLarge as error:
        raise ChatError(413, "file_too_large", error.message, "file") from None
    except DomainError as error:
        raise ChatError(422, "file_not_allowed", error.message, "file") from None


@dataclass(slots=True)
class PostedMessage:
    """A message as stored, and its broadcast JSON (callers need not reload the row)."""

    id: int
    seq: int
    author_id: int | None
    author_name: str
    from_machine: bool
    body: str
    created_at: datetime
    attachments: list
    published: dict | None = None


_sessions = LiveChatSession.__table__
_messages = ChatMessage.__table__
_MESSAGE_COLUMNS = (
    "tenant_id",
    "ticket_id",
    "session_id",
    "seq",
    "author_id",
    "author_name",
    "from_machine",
    "body",
    "created_at",
)


def _number_in_session(from_device: bool):
    """One UPDATE finds the active session, takes its row lock and hands out the next
    number, so numbers per ticket follow commit order (what resuming clients rely on). It
    also counts the message as unread for the other side. No active session: no row."""
    unread = _sessions.c.unread_by_agent if from_device else _sessions.c.unread_by_machine
    return (
        update(_sessions)
        .where(_sessions.c.ticket_id == bindparam("m_ticket"), _sessions.c.status == ChatSessionStatus.ACTIVE)
        .values(
            {
                _sessions.c.last_seq: _sessions.c.last_seq + 1,
                unread: unread + 1,
                _sessions.c.last_activity_at: bindparam("m_at", type_=UTCDateTime),
            }
        )
        .returning(_sessions.c.id.label("session_id"), _sessions.c.last_seq.label("seq"))
    )


def _insert_message(from_device: bool, numbered=None):
    """INSERT the message from its session's number (`numbered`: the UPDATE above as a CTE,
    or None for bind parameters), with the author the device-user rule decides."""
    speaker = (
        select(User.id, User.name)
        .where(User.id == speaker_id(bindparam("m_machine"), bindparam("m_requester")))
        .subquery("speaker")
    )
    if from_device:
        author_id, author_name, from_machine = speaker.c.id, func.substr(speaker.c.name, 1, 120), true()
    else:
        author_id = bindparam("m_author", type_=Integer)
        author_name = bindparam("m_author_name", type_=String)
        from_machine = speaker.c.id == author_id
    session_id, seq = (
        (numbered.c.session_id, numbered.c.seq)
        if numbered is not None
        else (bindparam("m_session", type_=Integer), bindparam("m_seq", type_=Integer))
    )
    row = select(
        bindparam("m_tenant", type_=Integer),
        bindparam("m_ticket", type_=Integer),
        session_id,
        seq,
        author_id,
        author_name,
        from_machine,
        bindparam("m_body", type_=Text),
        bindparam("m_at", type_=UTCDateTime),
    )
    row = (
        row.select_from(numbered).join(speaker, true()) if numbered is not None else row.select_from(speaker)
    )
    return (
        insert(_messages)
        .from_select(_MESSAGE_COLUMNS, row)
        .returning(
            _messages.c.id,
            _messages.c.seq,
            _messages.c.author_id,
            _messages.c.author_name,
            _messages.c.from_machine,
        )
    )


# Built once each (db_direct caches the compiled SQL). PostgreSQL stores a text message with
# one statement in autocommit: number, count and insert, all or nothing, one round trip.
_NUMBER = {side: _number_in_session(side) for side in (True, False)}
_INSERT = {side: _insert_message(side) for side in (True, False)}
_NUMBER_AND_INSERT = {
    side: _insert_message(side, _number_in_session(side).cte("numbered")) for side in (True, False)
}


def _store(ticket, params: dict, from_device: bool, files: list[IncomingFile]) -> tuple[tuple, list]:
    """(id, seq, author_id, author_name, from_machine) of the stored message, and its attachments."""
    if not files and db.engine.dialect.name == "postgresql":
        row = db_direct.first_row(_NUMBER_AND_INSERT[from_device], params, commit=True)
        if row is None:
            raise _no_active_session()
        return tuple(row), []
    # SQLite (no UPDATE inside a WITH), or files to save with the message: one transaction.
    connection = db.session.connection()
    numbered = connection.execute(_NUMBER[from_device], params).first()
    if numbered is None:
        db.session.rollback()
        raise _no_active_session()
    row = tuple(
        connection.execute(
            _INSERT[from_device], {**params, "m_session": numbered.session_id, "m_seq": numbered.seq}
        ).one()
    )
    saved = [
        attachment_service.save_attachment(
            ticket,
            None,
            file.filename,
            file.data,
            chat_message_id=row[0],
            allowed=CHAT_EXTENSIONS,
            max_bytes=CHAT_MAX_BYTES,
            uploader_id=row[2],
        )
        for file in files
    ]
    db.session.commit()
    return row, saved


def _no_active_session() -> ChatError:
    return ChatError(409, "no_active_session", "Nenhuma sessão de chat ativa para este chamado.")


def post_message(
    ticket: Ticket | ChatTicket,
    *,
    author: User | None,
    from_device: bool,
    body: str | None,
    files: list[IncomingFile] = (),
) -> PostedMessage:
    """Store a message, bump the session (activity, unread of the other side, number), commit, broadcast."""
    if not from_device:
        require_chat_permission(author, ticket)
    files = list(files)
    body = _clean_body(body, bool(files))
    for file in files:
        check_chat_file(file)
    params = {
        "m_tenant": ticket.tenant_id,
        "m_ticket": ticket.id,
        "m_machine": ticket.machine_id,
        "m_requester": ticket.requester_id,
        "m_body": body,
        "m_at": utcnow(),
        **({} if from_device else {"m_author": author.id, "m_author_name": author.name[:120]}),
    }
    ticket_id, reference, tenant_id = ticket.id, ticket.reference, ticket.tenant_id  # a commit expires them
    row, saved = _store(ticket, params, from_device, files)
    message = PostedMessage(*row, body=body, created_at=params["m_at"], attachments=saved)
    message.published = message_json(message, reference, saved)
    events = [
        (ticket_channel(ticket_id), {"kind": "message", "ticket": reference, "message": message.published})
    ]
    if from_device:
        events.append((tenant_channel(tenant_id), {"kind": "sessions"}))
    get_broker(current_app).publish_all(events)
    return message


def message_json(message: ChatMessage, reference: int, attachments: list | None = None) -> dict:
    attachments = message.attachments if attachments is None else attachments
    return {
        "id": message.seq,
        "ticket": reference,
        "body": message.body,
        "authorName": message.author_name,
        "isFromMachine": message.from_machine,
        "createdAt": message.created_at.isoformat(),
        "attachments": [
            {"id": a.id, "name": a.filename, "size": a.size_bytes, "type": a.content_type}
            for a in attachments
        ],
    }


def list_messages(ticket: Ticket, since: int | None = None, limit: int | None = None) -> list[ChatMessage]:
    """The newest `limit` messages after `since` (a message number), oldest first."""
    limit = max(1, min(limit or DEFAULT_PAGE, MAX_PAGE))
    if since and since >= INT32_MAX:
        return []  # no message number is past an INTEGER column's range
    query = select(ChatMessage).where(ChatMessage.ticket_id == ticket.id)
    if since:
        query = query.where(ChatMessage.seq > since)
    newest = db.session.scalars(query.order_by(ChatMessage.seq.desc()).limit(limit)).all()
    return list(reversed(newest))


def messages_after(ticket_id: int, after_seq: int, limit: int = MAX_PAGE) -> list[ChatMessage]:
    """What a resuming client missed, oldest first (it asks again while pages are full)."""
    if after_seq >= INT32_MAX:
        return []  # no message number is past an INTEGER column's range
    return db.session.scalars(
        select(ChatMessage)
        .where(ChatMessage.ticket_id == ticket_id, ChatMessage.seq > max(after_seq, 0))
        .order_by(ChatMessage.seq)
        .limit(limit)
    ).all()


def mark_read(ticket: Ticket, *, by_device: bool) -> int:
    """Reset the reader's unread counter on the active session. Returns how many were unread."""
    session = active_session(ticket.id)
    if session is None:
        return 0
    column = "unread_by_machine" if by_device else "unread_by_agent"
    unread = getattr(session, column)
    if unread:  # never write what did not change
        setattr(session, column, 0)
        db.session.commit()
        if not by_device:
            get_broker(current_app).publish(tenant_channel(ticket.tenant_id), {"kind": "sessions"})
    return unread


# --- what each side sees ----------------------------------------------------------


def _session_rows(*conditions, limit: int):
    return db.session.execute(
        select(LiveChatSession, Ticket.reference, Ticket.subject)
        .join(Ticket, Ticket.id == LiveChatSession.ticket_id)
        .where(LiveChatSession.status == ChatSessionStatus.ACTIVE, *conditions)
        .order_by(LiveChatSession.last_activity_at.desc())
        .limit(limit)
    ).all()


def machine_sessions(machine_id: int) -> list[dict]:
    """listMachineSessions: the device's active chats (at most 50)."""
    return [
        {
            "sessionId": s.id,
            "ticket": ref,
            "ticketSubject": subject,
            "agentName": s.agent_name,
            "unreadCount": s.unread_by_machine,
            "lastId": s.last_seq,
            "lastActivityAt": s.last_activity_at.isoformat(),
            "startedAt": s.started_at.isoformat(),
        }
        for s, ref, subject in _session_rows(
            LiveChatSession.machine_id == machine_id, limit=MAX_MACHINE_SESSIONS
        )
    ]


def machine_updates(machine_id: int) -> dict:
    """checkMachineUpdates: a light poll (active chats with unread counts, capped)."""
    sessions = [
        {"ticket": s["ticket"], "unreadCount": s["unreadCount"], "lastActivityAt": s["lastActivityAt"]}
        for s in machine_sessions(machine_id)
    ]
    return {
        "hasActiveSessions": bool(sessions),
        "sessions": sessions,
        "totalUnread": sum(s["unreadCount"] for s in sessions),
    }


def heartbeat_chat_state(context: machine_service.AgentContext) -> dict:
    """The chat part of a heartbeat answer: counts come with the token query; details
    are read only while a chat is open."""
    return {
        "activeSessions": context.chat_sessions,
        "unread": context.chat_unread,
        "sessions": machine_sessions(context.machine_id) if context.chat_sessions else [],
    }


@dataclass
class AgentSession:
    ticket_reference: int
    ticket_subject: str
    agent_name: str
    unread: int
    last_activity_at: datetime


def agent_sessions(actor: User) -> list[AgentSession]:
    """listAgentSessions: the tenant's active chats for the floating widget (staff only, at most 100)."""
    if actor is None or actor.role not in STAFF_ROLES:
        return []
    return [
        AgentSession(ref, subject, s.agent_name, s.unread_by_agent, s.last_activity_at)
        for s, ref, subject in _session_rows(
            LiveChatSession.tenant_id == actor.tenant_id, limit=MAX_AGENT_SESSIONS
        )
    ]


@dataclass
class TicketChat:
    """getTicketSession: the active session (if any) and whether the device is online."""

    session: LiveChatSession | None
    machine_online: bool
    messages: list[ChatMessage] = field(default_factory=list)

    @property
    def last_id(self) -> int:
        return self.messages[-1].seq if self.messages else (self.session.last_seq if self.session else 0)


def ticket_chat(ticket: Ticket) -> TicketChat:
    online = ticket.machine_id is not None and machine_service.is_online(machine_last_seen(ticket.machine_id))
    session = active_session(ticket.id)
    messages = list_messages(ticket, limit=MAX_PAGE) if session else []
    return TicketChat(session, online, messages)


@dataclass
class HistorySession:
    session: LiveChatSession
    messages: list[ChatMessage]


def chat_history(ticket: Ticket) -> tuple[list[HistorySession], int]:
    """getTicketChatHistory: sessions newest first (50) with their messages (the 500 newest overall)."""
    sessions = db.session.scalars(
        select(LiveChatSession)
        .where(LiveChatSession.ticket_id == ticket.id)
        .order_by(LiveChatSession.started_at.desc(), LiveChatSession.id.desc())
        .limit(HISTORY_SESSIONS)
    ).all()
    if not sessions:
        return [], 0
    messages = list(
        reversed(
            db.session.scalars(
                select(ChatMessage)
                .where(ChatMessage.ticket_id == ticket.id)
                .order_by(ChatMessage.seq.desc())
                .limit(HISTORY_MESSAGES)
            ).all()
        )
    )
    by_session: dict[int, list[ChatMessage]] = {}
    for message in messages:
        by_session.setdefault(message.session_id, []).append(message)
    return [HistorySession(s, by_session.get(s.id, [])) for s in sessions], len(messages)


def panel(ticket: Ticket) -> dict:
    """What the chat panel on the ticket page shows: the live session and the history."""
    history, _total = chat_history(ticket)
    return {"chat": ticket_chat(ticket), "chat_history": history}


def may_read_attachment(
    attachment: Attachment, *, user: User | None = None, machine_id: int | None = None
) -> bool:
    """Chat files go to the chat's participants only: staff who see the ticket, and its device."""
    ticket = attachment.ticket
    if machine_id is not None:
        return ticket.machine_id == machine_id
    return may_chat(user, ticket)


def chat_attachment(ticket: Ticket, attachment_id: int, *, machine_id: int) -> Attachment | None:
    """A chat file of this ticket, for its device; None when it is not one."""
    if not 0 < attachment_id <= INT32_MAX:
        return None
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket.id or attachment.chat_message_id is None:
        return None
    return attachment if may_read_attachment(attachment, machine_id=machine_id) else None


# --- automatic end ----------------------------------------------------------------


@dataclass
class AutoEndResult:
    ended: int = 0
    checked: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    has_more: bool = False

    def summary(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.reasons.items())) or "nenhuma"
        return f"verificadas {self.checked}, encerradas {self.ended} ({reasons})"


def auto_end_inactive_sessions(now: datetime | None = None, batch: int = AUTO_END_BATCH) -> AutoEndResult:
    """End sessions whose ticket lost its device, idle for 12 h, or whose device is offline.

    Unlike the seed, the query selects only sessions that qualify, so active
    healthy chats can never crowd the batch and starve the ones that should end.
    """
    now = now or utcnow()
    offline_cutoff = machine_service.online_cutoff(now)
    inactivity_cutoff = now - CHAT_INACTIVITY
    rows = db.session.execute(
        select(LiveChatSession, Ticket, MachinePresence.last_seen_at)
        .join(Ticket, Ticket.id == LiveChatSession.ticket_id)
        .outerjoin(MachinePresence, MachinePresence.machine_id == Ticket.machine_id)
        .where(
            LiveChatSession.status == ChatSessionStatus.ACTIVE,
            or_(
                Ticket.machine_id.is_(None),
                LiveChatSession.last_activity_at < inactivity_cutoff,
                MachinePresence.last_seen_at.is_(None),
                MachinePresence.last_seen_at < offline_cutoff,
            ),
        )
        .order_by(LiveChatSession.last_activity_at, LiveChatSession.id)
        .limit(batch + 1)
    ).all()
    result = AutoEndResult(has_more=len(rows) > batch)
    ended = []
    for session, ticket, _last_seen in rows[:batch]:
        result.checked += 1
        if ticket.machine_id is None:
            reason = "ticket_sem_maquina"
        elif session.last_activity_at < inactivity_cutoff:
            reason = "inatividade_chat"
        else:
            reason = "maquina_offline"
        if _close(
            session, ticket, actor_id=session.agent_id, actor_name=session.agent_name, reason=reason, now=now
        ):
            result.ended += 1
            result.reasons[reason] = result.reasons.get(reason, 0) + 1
            ended.append((session, ticket))
    db.session.commit()
    for session, ticket in ended:
        _publish_session_change(session, ticket, "ended")
    return result
