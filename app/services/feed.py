"""The change feed: every committed change a screen shows becomes a numbered event of its tenant.

Structural, like the audit log: a SQLAlchemy `after_flush` hook sees the rows that say what
changed — a ticket event (created, status, assignee, queue, priority, chat started/ended), a
comment, a file added to a ticket, a device alert opened or resolved, a device renamed — and
notes an event for each. Just before the transaction commits, each tenant's events are
numbered under the tenant row's lock (`tenants.change_seq`, so numbers follow commit order)
and written in the same transaction; after the commit they are published (Redis pub/sub with
REDIS_URL, in-process without: the chat broker). A screen that reconnects says the last number
it saw and reads what it missed from `change_events` (app/chat/socket.py); one away too long
is told to reload.

Events carry ids, not data: a screen fetches what it may see. `may_hear` decides who is told
at all: staff everything of their tenant; a portal visitor only the public changes of
tickets they see; devices nothing.
"""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import event, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from app.chat.broker import get_broker
from app.extensions import db
from app.models import (
    Attachment,
    ChangeEvent,
    Comment,
    CommentVisibility,
    Machine,
    MachineAlert,
    Tenant,
    Ticket,
    TicketEvent,
)
from app.models.types import utcnow

MAX_REPLAY = 500  # a screen that missed more than this reloads instead
_PENDING = "feed_pending"  # noted by after_flush, numbered before the commit
_NUMBERED = "feed_numbered"  # written with the commit, published after it

# What a ticket event is to a screen.
TICKET_EVENT_KINDS = {
    "CREATED": "ticket.created",
    "STATUS_CHANGED": "ticket.status",
    "ASSIGNED": "ticket.assignee",
    "UNASSIGNED": "ticket.assignee",
    "QUEUE_CHANGED": "ticket.queue",
    "PRIORITY_CHANGED": "ticket.priority",
    "LIVE_CHAT_STARTED": "chat.started",
    "LIVE_CHAT_ENDED": "chat.ended",
}
# Every row names every column (one INSERT of many rows): what an event does not say is NULL.
_NO_IDS = dict.fromkeys(("ticket_id", "ticket_reference", "machine_id", "requester_id", "company_id")) | {
    "internal": False
}
DEVICE_FIELDS = ("display_name", "notes", "is_active", "assigned_user_id", "persona", "company_id")


def feed_channel(tenant_id: int) -> str:
    return f"feed:{tenant_id}"


def current_seq(tenant_id: int) -> int:
    """The tenant's last event number: what a page rendered now has seen."""
    return db.session.scalar(select(Tenant.change_seq).where(Tenant.id == tenant_id)) or 0


def events_after(after: int, limit: int = MAX_REPLAY) -> list[ChangeEvent]:
    """The current tenant's events after `after`, oldest first (the tenant gate scopes it)."""
    return db.session.scalars(
        select(ChangeEvent).where(ChangeEvent.seq > after).order_by(ChangeEvent.seq).limit(limit)
    ).all()


def wire(change: ChangeEvent | dict) -> dict:
    """The frame a screen gets: the event's number, kind and ids."""
    get = change.get if isinstance(change, dict) else lambda key: getattr(change, key)
    return {
        "type": "change",
        "seq": get("seq"),
        "kind": get("kind"),
        "ticket": get("ticket_reference"),
        "machine": get("machine_id"),
    }


def may_hear(change, *, staff: bool, user_id: int | None = None, company_id=None, sees_company=False) -> bool:
    """Staff hear every event of their tenant; a portal visitor only the public changes of a
    ticket they see (theirs, or their company's as its manager). `change`: a row or a dict."""
    get = change.get if isinstance(change, dict) else lambda key: getattr(change, key)
    if staff:
        return True
    if get("internal") or get("ticket_id") is None:
        return False
    if get("requester_id") == user_id:
        return True
    return sees_company and company_id is not None and get("company_id") == company_id


# --- noting the changes ------------------------------------------------------------------


_TICKET_FACTS = ("tenant_id", "reference", "requester_id", "company_id", "machine_id")


def _ticket_facts(session: Session, ticket_id: int) -> dict | None:
    """What the feed keeps of a ticket: the loaded row's, else one read (inside the flush)."""
    ticket = session.identity_map.get(inspect(Ticket).identity_key_from_primary_key((ticket_id,)))
    if ticket is not None:
        values = tuple(getattr(ticket, name) for name in _TICKET_FACTS)
    else:
        table = Ticket.__table__
        columns = [table.c[name] for name in _TICKET_FACTS]
        values = session.connection().execute(select(*columns).where(table.c.id == ticket_id)).first()
        if values is None:
            return None
    tenant_id, reference, requester_id, company_id, machine_id = values
    return {
        "tenant_id": tenant_id,
        "ticket_id": ticket_id,
        "ticket_reference": reference,
        "requester_id": requester_id,
        "company_id": company_id,
        "machine_id": machine_id,
    }


def _changed(obj, fields) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _notes_for(session: Session, obj, is_new: bool) -> dict | None:
    """The event a flushed row means, or None."""
    if isinstance(obj, TicketEvent) and is_new:
        facts = _ticket_facts(session, obj.ticket_id)
        return facts and {**facts, "kind": TICKET_EVENT_KINDS.get(obj.type, "ticket.updated")}
    if isinstance(obj, Comment) and is_new:
        facts = _ticket_facts(session, obj.ticket_id)
        internal = obj.visibility != CommentVisibility.PUBLIC
        kind = "comment.internal" if internal else "comment.public"
        return facts and {**facts, "kind": kind, "internal": internal}
    if isinstance(obj, Attachment) and is_new and obj.comment_id is None and obj.chat_message_id is None:
        facts = _ticket_facts(session, obj.ticket_id)
        return facts and {**facts, "kind": "attachment"}
    if isinstance(obj, MachineAlert) and (is_new or _changed(obj, ("resolved_at",))):
        kind = "alert.opened" if obj.resolved_at is None else "alert.resolved"
        return {"tenant_id": obj.tenant_id, "machine_id": obj.machine_id, "kind": kind, "internal": True}
    if isinstance(obj, Machine) and (is_new or _changed(obj, DEVICE_FIELDS)):
        kind = "device.created" if is_new else "device.updated"
        return {"tenant_id": obj.tenant_id, "machine_id": obj.id, "kind": kind, "internal": True}
    return None


def note(session: Session, tenant_id: int, kind: str, *, internal: bool = True, **ids) -> None:
    """An event no flushed row says (a device going online or offline), for this transaction;
    staff only unless said otherwise."""
    change = {"tenant_id": tenant_id, "kind": kind, "internal": internal, **ids}
    session.info.setdefault(_PENDING, []).append(change)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _flush_context) -> None:
    notes = [(obj, True) for obj in session.new] + [(obj, False) for obj in session.dirty]
    for obj, is_new in notes:
        found = _notes_for(session, obj, is_new)
        if found:
            session.info.setdefault(_PENDING, []).append(found)


# --- numbering, writing, publishing --------------------------------------------------------


@event.listens_for(Session, "before_commit")
def _number_and_write(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a SAVEPOINT: the outer commit numbers everything once
    session.flush()  # the rows still pending say their changes now, not after numbering
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    connection = session.connection()
    tenants = Tenant.__table__
    now = utcnow()
    numbered = []
    for tenant_id in sorted({each["tenant_id"] for each in pending}):  # one lock order: no deadlock
        events = [each for each in pending if each["tenant_id"] == tenant_id]
        last = connection.execute(
            update(tenants)
            .where(tenants.c.id == tenant_id)
            .values(change_seq=tenants.c.change_seq + len(events))
            .returning(tenants.c.change_seq)
        ).scalar_one()
        rows = [
            {**_NO_IDS, **each, "seq": last - len(events) + 1 + index, "created_at": now}
            for index, each in enumerate(events)
        ]
        connection.execute(insert(ChangeEvent.__table__), rows)
        numbered.extend(rows)
    session.info[_NUMBERED] = numbered


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    numbered = session.info.pop(_NUMBERED, None)
    if not numbered or not has_app_context():
        return
    get_broker(current_app).publish_all([(feed_channel(each["tenant_id"]), each) for each in numbered])


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_NUMBERED, None)


def oldest_seq() -> int | None:
    """The current tenant's oldest kept event number (None: none kept)."""
    return db.session.scalar(select(func.min(ChangeEvent.seq)))
