"""The message store: every message is stored and committed before it is broadcast (the
broadcast waits for the commit: transaction.after_commit), numbered per ticket in commit
order by the UPDATE that locks its session row (what resuming clients rely on). On
PostgreSQL a device's text message is one statement in autocommit: number, count and insert,
all or nothing, one round trip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, bindparam, func, insert, select, true, update

from app import db_direct
from app.chat.access import ChatTicket, require_chat_permission
from app.chat.broker import (
    machine_channel,
    person_channel,
    publish_after_commit,
    tenant_channel,
    ticket_channel,
)
from app.chat.sessions import active_session
from app.devices.people import device_person_id
from app.devices.serializers import chat_message
from app.extensions import db
from app.models import ChatMessage, ChatSessionStatus, LiveChatSession, Ticket, User
from app.models.types import UTCDateTime, utcnow
from app.services import attachments as attachment_service
from app.services.errors import DomainError
from app.services.numbers import INT32_MAX

MAX_BODY_CHARS = 4000


DEFAULT_PAGE = 50


MAX_PAGE = 200


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


def speaker_id(machine_id, requester_id):
    """The device's person (devices.people.device_person_id: the assigned user, else the first
    linked user), else the ticket's requester, as one SQL expression. A message written by this
    user is "from the machine". Used by the statements that store a message (_insert_message)."""
    return device_person_id(machine_id, requester_id)


@dataclass
class IncomingFile:
    filename: str
    data: bytes
    declared_type: str | None = None


def message_too_long() -> DomainError:
    """The seed's refusal, word for word (the agent API's schema check answers with it too)."""
    return DomainError(
        f"Mensagem muito longa (máximo {MAX_BODY_CHARS} caracteres)",
        status=422,
        code="message_too_long",
        field="body",
    )


def _clean_body(body: str | None, has_files: bool) -> str:
    # As the seed: the length as sent, before trimming.
    if len(body or "") > MAX_BODY_CHARS:
        raise message_too_long()
    body = (body or "").strip()
    if "\x00" in body:  # PostgreSQL cannot store it (a form or a socket frame can carry one)
        raise DomainError(
            "Campo inválido: body (caractere NUL não é aceito).",
            status=422,
            code="invalid_field",
            field="body",
        )
    if not body and not has_files:
        raise DomainError(
            "Escreva uma mensagem ou anexe um arquivo.", status=422, code="message_empty", field="body"
        )
    return body


def check_chat_file(file: IncomingFile) -> None:
    """The seed's upload rules, plus a look at the content (a `.png` must be a PNG)."""
    declared = (file.declared_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream" and declared not in CHAT_MIME_TYPES:
        raise DomainError("Tipo MIME não permitido.", status=422, code="file_type_not_allowed", field="file")
    try:
        attachment_service.check_upload(
            file.filename, file.data, allowed=CHAT_EXTENSIONS, max_bytes=CHAT_MAX_BYTES
        )
    except attachment_service.FileTooLarge as error:
        raise DomainError(error.message, status=413, code="file_too_large", field="file") from None
    except DomainError as error:
        raise DomainError(error.message, status=422, code="file_not_allowed", field="file") from None


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


# Who writes a message: the device (its person, by the device-user rule), the person in the
# portal (a device session or the requester: the signed-in author), or staff.
DEVICE, PERSON, STAFF = "device", "person", "staff"


def _insert_message(side: str, numbered=None):
    """INSERT the message from its session's number (`numbered`: the UPDATE above as a CTE,
    or None for bind parameters), with the author the device-user rule decides for a device
    and the signed-in author otherwise."""
    speaker = (
        select(User.id, User.name)
        .where(User.id == speaker_id(bindparam("m_machine"), bindparam("m_requester")))
        .subquery("speaker")
    )
    if side == DEVICE:
        author_id, author_name, from_machine = speaker.c.id, func.substr(speaker.c.name, 1, 120), true()
    else:
        author_id = bindparam("m_author", type_=Integer)
        author_name = bindparam("m_author_name", type_=String)
        from_machine = true() if side == PERSON else speaker.c.id == author_id
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
    if numbered is not None:
        row = row.select_from(numbered)
    if side != PERSON:
        row = row.join(speaker, true()) if numbered is not None else row.select_from(speaker)
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


def _from_customer(side: str) -> bool:
    """A device's or a portal person's message counts as unread for staff."""
    return side != STAFF


# Built once each (db_direct caches the compiled SQL). PostgreSQL stores a text message with
# one statement in autocommit: number, count and insert, all or nothing, one round trip.
_NUMBER = {side: _number_in_session(_from_customer(side)) for side in (DEVICE, PERSON, STAFF)}


_INSERT = {side: _insert_message(side) for side in (DEVICE, PERSON, STAFF)}


_NUMBER_AND_INSERT = {
    side: _insert_message(side, _number_in_session(_from_customer(side)).cte("numbered"))
    for side in (DEVICE, PERSON, STAFF)
}


def _store(ticket, params: dict, side: str, files: list[IncomingFile]) -> tuple[tuple, list]:
    """(id, seq, author_id, author_name, from_machine) of the stored message, and its attachments."""
    if not files and db.engine.dialect.name == "postgresql":
        # In autocommit when no transaction is open (a device's frame), else in the unit of work.
        row = db_direct.first_row(_NUMBER_AND_INSERT[side], params)
        if row is None:
            raise _no_active_session()
        return tuple(row), []
    # SQLite (no UPDATE inside a WITH), or files to save with the message: one transaction.
    connection = db.session.connection()
    numbered = connection.execute(_NUMBER[side], params).first()
    if numbered is None:
        raise _no_active_session()
    row = tuple(
        connection.execute(
            _INSERT[side], {**params, "m_session": numbered.session_id, "m_seq": numbered.seq}
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
    db.session.flush()
    return row, saved


def _no_active_session() -> DomainError:
    return DomainError(
        "Nenhuma sessão de chat ativa para este chamado.", status=409, code="no_active_session"
    )


def post_message(
    ticket: Ticket | ChatTicket,
    *,
    author: User | None,
    from_device: bool,
    body: str | None,
    files: list[IncomingFile] = (),
) -> PostedMessage:
    """Store a message, bump the session (activity, unread of the other side, number); broadcast
    it once committed.

    `from_device`: the customer's side wrote it; with an `author`, the person in the portal
    (whose access the caller checked, chat.access.ticket_for_person), without one, the device."""
    side = (PERSON if author is not None else DEVICE) if from_device else STAFF
    if side == STAFF:
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
        **({} if side == DEVICE else {"m_author": author.id, "m_author_name": author.name[:120]}),
    }
    ticket_id, reference, tenant_id = ticket.id, ticket.reference, ticket.tenant_id
    machine_id, requester_id = ticket.machine_id, ticket.requester_id
    row, saved = _store(ticket, params, side, files)
    message = PostedMessage(*row, body=body, created_at=params["m_at"], attachments=saved)
    message.published = chat_message(message, reference, saved)
    publish_after_commit(
        _message_events(message.published, ticket_id, reference, tenant_id, side, machine_id, requester_id)
    )
    return message


def _message_events(published, ticket_id, reference, tenant_id, side, machine_id, requester_id) -> list:
    """The message to whoever follows the ticket; a "sessions" notice (unread counts changed)
    to the other side's lists: staff's widget, or the portal's "Falar com o suporte" entry."""
    events = [(ticket_channel(ticket_id), {"kind": "message", "ticket": reference, "message": published})]
    if side == STAFF:
        events.append((person_channel(requester_id), {"kind": "sessions"}))
        if machine_id:
            events.append((machine_channel(machine_id), {"kind": "sessions"}))
    else:
        events.append((tenant_channel(tenant_id), {"kind": "sessions"}))
    return events


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
        db.session.flush()
        if not by_device:
            publish_after_commit([(tenant_channel(ticket.tenant_id), {"kind": "sessions"})])
    return unread
