"""What each side sees of the chats: a device's active chats, the staff widget, the ticket
page's live panel and history. The JSON a device receives is built by app/devices/serializers.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.chat.messages import MAX_PAGE, list_messages
from app.chat.sessions import active_session
from app.devices import serializers
from app.devices.online import is_online, machine_last_seen
from app.extensions import db
from app.models import ChatMessage, ChatSessionStatus, LiveChatSession, Ticket, User
from app.services.permissions import can

MAX_MACHINE_SESSIONS = 50


MAX_AGENT_SESSIONS = 100


HISTORY_SESSIONS = 50


HISTORY_MESSAGES = 500


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
    return serializers.chat_sessions(
        _session_rows(LiveChatSession.machine_id == machine_id, limit=MAX_MACHINE_SESSIONS)
    )


def machine_updates(machine_id: int) -> dict:
    """checkMachineUpdates: a light poll (active chats with unread counts, capped)."""
    return serializers.chat_updates(machine_sessions(machine_id))


@dataclass
class AgentSession:
    ticket_reference: int
    ticket_subject: str
    agent_name: str
    unread: int
    last_activity_at: datetime


def agent_sessions(actor: User) -> list[AgentSession]:
    """listAgentSessions: the tenant's active chats for the floating widget (staff only, at most 100)."""
    if not can(actor, "chat.use"):
        return []
    return [
        AgentSession(ref, subject, s.agent_name, s.unread_by_agent, s.last_activity_at)
        for s, ref, subject in _session_rows(limit=MAX_AGENT_SESSIONS)
    ]


@dataclass
class PersonSession:
    """An active chat in the portal's "Falar com o suporte" list."""

    ticket_reference: int
    ticket_subject: str
    agent_name: str
    unread: int


def person_sessions(user: User, *, persona=None, machine_id: int | None = None) -> list[PersonSession]:
    """The active chats the portal visitor is the other side of (permissions'
    "chat.customer"): the device's, in a device session; else the tickets they requested."""
    if not can(user, "portal.pages"):
        return []
    mine = Ticket.machine_id == machine_id if machine_id is not None else Ticket.requester_id == user.id
    rows = db.session.execute(
        select(LiveChatSession, Ticket)
        .join(Ticket, Ticket.id == LiveChatSession.ticket_id)
        .where(LiveChatSession.status == ChatSessionStatus.ACTIVE, mine)
        .order_by(LiveChatSession.last_activity_at.desc())
        .limit(MAX_MACHINE_SESSIONS)
    ).all()
    return [
        PersonSession(ticket.reference, ticket.subject, session.agent_name, session.unread_by_machine)
        for session, ticket in rows
        if can(user, "chat.customer", ticket, persona=persona, machine_id=machine_id)
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
    online = ticket.machine_id is not None and is_online(machine_last_seen(ticket.machine_id))
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
