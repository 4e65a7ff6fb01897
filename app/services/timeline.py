"""A ticket's timeline: its events and comments in order, and one Portuguese sentence for any
stored event, the same on the staff page, the portal and e-mails."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import Comment, CommentVisibility, Ticket, TicketEvent, TicketPriority, TicketStatus, User
from app.models.chat import CHAT_END_REASONS
from app.services.errors import ValidationError


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # "event" or "comment"
    item: object


# What the requester side may see of the timeline; every other event (assignment,
# queue, priority, internal chat notes...) is internal.
PUBLIC_EVENT_TYPES = frozenset({"CREATED", "STATUS_CHANGED"})


def timeline(ticket: Ticket, *, include_internal: bool, newest_first: bool = False) -> list[TimelineEntry]:
    """Events and comments of a ticket, merged in time order (oldest first, or newest first).
    Without `include_internal`: public comments and public events only (the portal)."""
    event_query = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id)
        .options(joinedload(TicketEvent.actor))
        .order_by(TicketEvent.created_at, TicketEvent.id)
    )
    if not include_internal:
        event_query = event_query.where(TicketEvent.type.in_(PUBLIC_EVENT_TYPES))
    events = db.session.scalars(event_query).all()
    comment_query = (
        select(Comment)
        .where(Comment.ticket_id == ticket.id)
        .options(joinedload(Comment.author), selectinload(Comment.attachments))
        .order_by(Comment.created_at, Comment.id)
    )
    if not include_internal:
        comment_query = comment_query.where(Comment.visibility == CommentVisibility.PUBLIC)
    comments = db.session.scalars(comment_query).all()
    entries = [TimelineEntry(e.created_at, "event", e) for e in events]
    entries += [TimelineEntry(c.created_at, "comment", c) for c in comments]
    entries.sort(key=lambda entry: (entry.at, 0 if entry.kind == "event" else 1), reverse=newest_first)
    return entries


# --- the order a person reads it in (saved per person, like their e-mail switches) -----------

ORDER_KEY = "timeline_order"
OLDEST_FIRST = "antigos"
NEWEST_FIRST = "recentes"
ORDERS = {OLDEST_FIRST: "Mais antigos primeiro", NEWEST_FIRST: "Mais recentes primeiro"}


def order_of(user: User) -> str:
    """The person's timeline order; oldest first unless they chose otherwise."""
    value = (user.preferences or {}).get(ORDER_KEY)
    return value if value in ORDERS else OLDEST_FIRST


def set_order(user: User, order: str) -> bool:
    """Save the person's order; writes nothing when it is already so."""
    if order not in ORDERS:
        raise ValidationError("Ordem da linha do tempo inválida.", field="ordem")
    if order_of(user) == order:
        return False
    user.preferences = {**(user.preferences or {}), ORDER_KEY: order}  # a new dict: SQLAlchemy sees it
    db.session.flush()
    return True


# A timeline line for an event type this code does not know (an older or newer release wrote it).
UNKNOWN_EVENT_TEXT = "Alteração registrada"


def describe_event(event: TicketEvent, *, public: bool = False) -> str:
    """One Portuguese sentence for a timeline event; `public` leaves out staff notes (pause reasons).

    Any stored payload renders: a missing or unexpected value becomes a neutral word, never an
    exception, since events written by older releases (or by hand) must not break the page."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    text = _describe(event.type, payload, public)
    # An event moved here by a merge says which ticket it happened on.
    origin = _reference(payload.get("merged_from"))
    if origin is None:
        return text
    if event.type == "CREATED":
        return f"Chamado #{origin} aberto"
    return f"{text} (no chamado #{origin})"


def _describe(event_type: str, payload: dict, public: bool) -> str:
    if event_type == "CREATED":
        return "Chamado aberto"
    if event_type == "STATUS_CHANGED":
        return _describe_status_change(payload, public)
    if event_type == "ASSIGNED":
        name = _text(payload.get("to_name"))
        return f"Atribuído a {name}" if name else "Responsável alterado"
    if event_type == "UNASSIGNED":
        return "Responsável removido"
    if event_type == "QUEUE_CHANGED":
        return _describe_change("Fila", _text(payload.get("from_name")), _text(payload.get("to_name")))
    if event_type == "PRIORITY_CHANGED":
        return _describe_change(
            "Prioridade",
            _label(TicketPriority, payload.get("from")),
            _label(TicketPriority, payload.get("to")),
        )
    if event_type in ("LIVE_CHAT_STARTED", "LIVE_CHAT_ENDED"):
        return describe_chat_event(event_type, payload)
    if event_type == "MERGED_INTO":
        target = _reference(payload.get("to_reference"))
        return f"Mesclado no chamado #{target}" if target else "Mesclado em outro chamado"
    if event_type == "MERGED_FROM":
        origin = _reference(payload.get("from_reference"))
        return f"Chamado #{origin} mesclado neste" if origin else "Outro chamado mesclado neste"
    return UNKNOWN_EVENT_TEXT


def _describe_status_change(payload: dict, public: bool) -> str:
    text = _describe_change(
        "Status", _label(TicketStatus, payload.get("from")), _label(TicketStatus, payload.get("to"))
    )
    reason = _text(payload.get("reason"))
    return text + (f" ({reason})" if reason and not public else "")


# What a change says when its stored values are missing ("Prioridade alterada").
CHANGED_WORDS = {"Status": "Status alterado", "Fila": "Fila alterada", "Prioridade": "Prioridade alterada"}


def _describe_change(what: str, before: str, after: str) -> str:
    if before and after:
        return f"{what}: {before} → {after}"
    if after:
        return f"{what}: {after}"
    return CHANGED_WORDS[what]


def _label(enum_class, value) -> str:
    """The Portuguese label of a stored enum value; "" for a missing or unknown one."""
    try:
        return enum_class(value).label
    except (ValueError, TypeError):
        return ""


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _reference(value) -> int | None:
    """A stored ticket number, or None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def merged_with(event: TicketEvent) -> int | None:
    """The other ticket of a merge event on this ticket (the staff timeline links it)."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    if "merged_from" in payload:
        return None  # moved here from another ticket: its link would mislead
    if event.type == "MERGED_INTO":
        return _reference(payload.get("to_reference"))
    if event.type == "MERGED_FROM":
        return _reference(payload.get("from_reference"))
    return None


def describe_chat_event(event_type: str, payload: dict) -> str:
    if event_type == "LIVE_CHAT_STARTED":
        host = _text(payload.get("machineHostname"))
        return f"Chat ao vivo iniciado {_by(payload)}" + (f" com {host}" if host else "")
    duration = f"duração {format_duration(_whole_number(payload.get('durationMs')) // 1000)}"
    if payload.get("autoEnded"):
        code = _text(payload.get("reason"))
        reason = CHAT_END_REASONS.get(code, code or "motivo não informado")
        return f"Chat ao vivo encerrado automaticamente: {reason} ({duration})"
    return f"Chat ao vivo encerrado {_by(payload)} ({duration})"


def _by(payload: dict) -> str:
    name = _text(payload.get("agentName"))
    return f"por {name}" if name else "pela equipe"


def _whole_number(value) -> int:
    try:
        return max(int(value), 0)
    except (ValueError, TypeError, OverflowError):
        return 0


def format_duration(seconds: int) -> str:
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}min"
