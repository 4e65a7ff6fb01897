"""Chat sessions: started by staff on a ticket linked to an online device, one ACTIVE per
ticket, ended by staff or automatically (the workers' chat_cleanup job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.chat.access import require_chat_permission
from app.chat.broker import (
    machine_channel,
    person_channel,
    publish_after_commit,
    tenant_channel,
    ticket_channel,
)
from app.devices.online import is_online, machine_last_seen, offline_sql
from app.extensions import db
from app.models import ChatMessage, ChatSessionStatus, LiveChatSession, MachinePresence, Ticket, User
from app.models.types import utcnow
from app.services.errors import DomainError
from app.services.tickets import record_event

CHAT_INACTIVITY = timedelta(hours=12)


AUTO_END_BATCH = 50


def active_session(ticket_id: int) -> LiveChatSession | None:
    return db.session.scalar(
        select(LiveChatSession).where(
            LiveChatSession.ticket_id == ticket_id, LiveChatSession.status == ChatSessionStatus.ACTIVE
        )
    )


def start_session(actor: User, ticket: Ticket) -> tuple[LiveChatSession, bool]:
    """Start (or return the already active) chat of a ticket. Returns (session, is_new)."""
    require_chat_permission(actor, ticket, "iniciar chat ao vivo")
    if ticket.machine_id is None:
        raise DomainError(
            "Este chamado não está vinculado a um dispositivo.", status=409, code="ticket_without_machine"
        )
    existing = active_session(ticket.id)
    if existing is not None:
        return existing, False
    if not is_online(machine_last_seen(ticket.machine_id)):
        raise DomainError(
            "Dispositivo offline. O dispositivo precisa estar online para iniciar o chat.",
            status=409,
            code="machine_offline",
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
    try:
        with db.session.begin_nested():  # a refusal undoes this row only, not the caller's work
            db.session.add(session)
    except IntegrityError:
        # Someone started it a moment ago: the unique index keeps one ACTIVE session.
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
    db.session.flush()
    _publish_session_change(session, ticket, "started")
    return session, True


def end_session(actor: User, ticket: Ticket) -> LiveChatSession:
    """Only staff end a chat; ending one that is no longer active is a 409."""
    require_chat_permission(actor, ticket, "encerrar sessões de chat")
    session = active_session(ticket.id)
    if session is None:
        raise DomainError("Sessão já encerrada.", status=409, code="session_not_active")
    _close(session, ticket, actor_id=actor.id, actor_name=actor.name, actor=actor)
    db.session.flush()
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
            raise DomainError("Sessão já encerrada.", status=409, code="session_not_active")
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
    events = [(ticket_channel(ticket.id), payload), (person_channel(ticket.requester_id), payload)]
    if session.machine_id:
        events.append((machine_channel(session.machine_id), payload))
    events.append((tenant_channel(session.tenant_id), {"kind": "sessions"}))
    publish_after_commit(events)


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
                offline_sql(now),
            ),
        )
        .order_by(LiveChatSession.last_activity_at, LiveChatSession.id)
        .limit(batch + 1)
    ).all()
    result = AutoEndResult(has_more=len(rows) > batch)
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
            _publish_session_change(session, ticket, "ended")
    return result
