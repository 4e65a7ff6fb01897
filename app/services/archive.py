"""Local ticket archive (seed 000 §14): resolved tickets older than N days, with their
comments and timeline, written to JSONL files in ARCHIVE_DIR, and read back by restore.

Archiving is a backup, not a purge: tickets are never deleted (retention policy).
Each archived ticket is stamped `archived_at`, so archiving again writes only what
was not archived yet (a reopened ticket loses its stamp and is archived again when
it is resolved). References travel by natural key (tenant key, queue name, e-mail,
company apelido), so a file can be restored into a rebuilt database; a ticket that
already exists (same tenant and number) is skipped, which makes restore idempotent.
Archiving reads every tenant (all_tenants); each ticket is restored in its own tenant's scope.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, insert, select, update

from app.extensions import db
from app.models import (
    Comment,
    Company,
    Queue,
    Tenant,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
    User,
)
from app.models.types import utcnow
from app.services import tenancy

FORMAT = "chamados-ticket-archive/1"
BATCH = 200
TICKET_FIELDS = (
    "reference",
    "subject",
    "description_html",
    "description_text",
    "status",
    "priority",
    "priority_rank",
    "chat_enabled",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "worked_seconds",
)
DATETIME_FIELDS = {"created_at", "updated_at", "first_response_at", "resolved_at"}


@dataclass
class ArchiveResult:
    path: str | None = None
    tickets: int = 0
    comments: int = 0
    events: int = 0

    def summary(self) -> str:
        if not self.tickets:
            return "nenhum chamado novo para arquivar"
        return f"{self.tickets} chamados ({self.comments} comentários, {self.events} eventos) em {self.path}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _users_by_id(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def _ticket_record(ticket: Ticket, tenant_key: str, emails: dict, comments: list, events: list) -> dict:
    record = {name: getattr(ticket, name) for name in TICKET_FIELDS}
    for name in DATETIME_FIELDS:
        record[name] = _iso(record[name])
    record["status"] = TicketStatus(ticket.status).value
    record["priority"] = TicketPriority(ticket.priority).value
    record.update(
        tenant=tenant_key,
        queue=ticket.queue.name,
        company=ticket.company.apelido if ticket.company else None,
        requester=emails.get(ticket.requester_id),
        assignee=emails.get(ticket.assignee_id),
    )
    return {
        "format": FORMAT,
        "ticket": record,
        "comments": [
            {
                "author": emails.get(c.author_id),
                "body_html": c.body_html,
                "visibility": c.visibility.value,
                "created_at": _iso(c.created_at),
            }
            for c in comments
        ],
        "events": [
            {
                "type": e.type,
                "payload": e.payload,
                "actor": emails.get(e.actor_id),
                "created_at": _iso(e.created_at),
            }
            for e in events
        ],
    }


# The oldest cut-off anyone may ask for: a century (past ~2 700 000 days the date arithmetic overflows).
MAX_ARCHIVE_DAYS = 36_500


def archive_resolved(
    older_than_days: int, archive_dir: str | None = None, now: datetime | None = None
) -> ArchiveResult:
    """Write every resolved, not yet archived ticket resolved more than `older_than_days` ago."""
    with tenancy.all_tenants("the local archive is one file for the whole install, every tenant"):
        return _archive_resolved(older_than_days, archive_dir, now)


def _archive_resolved(older_than_days: int, archive_dir: str | None, now: datetime | None) -> ArchiveResult:
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    now = now or utcnow()
    cutoff = now - timedelta(days=older_than_days)
    directory = Path(archive_dir or current_app.config["ARCHIVE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"tickets-{now:%Y%m%dT%H%M%S%fZ}.jsonl"
    partial = directory / f".{final.name}.part"
    tenant_keys = dict(db.session.execute(select(Tenant.id, Tenant.key)).all())
    result = ArchiveResult()
    written: list[int] = []
    last_id = 0
    with open(partial, "w", encoding="utf-8") as handle:
        while True:
            tickets = list(
                db.session.scalars(
                    select(Ticket)
                    .where(
                        Ticket.status == TicketStatus.RESOLVED,
                        Ticket.resolved_at < cutoff,
                        Ticket.archived_at.is_(None),
                        Ticket.id > last_id,
                    )
                    .order_by(Ticket.id)
                    .limit(BATCH)
                )
            )
            if not tickets:
                break
            last_id = tickets[-1].id
            ids = [t.id for t in tickets]
            comments = _grouped(select(Comment).where(Comment.ticket_id.in_(ids)).order_by(Comment.id))
            events = _grouped(
                select(TicketEvent).where(TicketEvent.ticket_id.in_(ids)).order_by(TicketEvent.id)
            )
            user_ids = {t.requester_id for t in tickets} | {t.assignee_id for t in tickets if t.assignee_id}
            user_ids |= {c.author_id for cs in comments.values() for c in cs}
            user_ids |= {e.actor_id for es in events.values() for e in es if e.actor_id}
            emails = _users_by_id(user_ids)
            for ticket in tickets:
                line = _ticket_record(
                    ticket,
                    tenant_keys[ticket.tenant_id],
                    emails,
                    comments.get(ticket.id, []),
                    events.get(ticket.id, []),
                )
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                result.tickets += 1
                result.comments += len(line["comments"])
                result.events += len(line["events"])
            written.extend(ids)
            # The session's identity map holds rows weakly: memory stays flat batch after batch.
        handle.flush()
        os.fsync(handle.fileno())
    if not written:
        partial.unlink(missing_ok=True)
        return result
    os.replace(partial, final)
    for start in range(0, len(written), 1000):
        db.session.execute(  # the session's tickets learn it too ("evaluate": no SELECT)
            update(Ticket)
            .where(Ticket.id.in_(written[start : start + 1000]))
            .values(archived_at=now)
            .execution_options(synchronize_session="evaluate")
        )
    result.path = str(final)
    return result


def _grouped(query) -> dict[int, list]:
    groups: dict[int, list] = {}
    for row in db.session.scalars(query):
        groups.setdefault(row.ticket_id, []).append(row)
    return groups


@dataclass
class RestoreResult:
    restored: int = 0
    already_present: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    comments: int = 0
    events: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def summary(self) -> str:
        text = (
            f"restaurados {self.restored} chamados ({self.comments} comentários, {self.events} eventos); "
            f"já existentes {self.already_present}"
        )
        if self.skipped:
            text += "; ignorados: " + ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items()))
        return text


class _Lookup:
    """Natural key -> id, cached for the length of a restore."""

    def __init__(self):
        self.cache: dict = {}

    def get(self, kind: str, tenant_id: int | None, key: str | None) -> int | None:
        """`tenant_id`: the tenant whose scope the lookup runs in (None for the tenant itself)."""
        if not key:
            return None
        cache_key = (kind, tenant_id, key)
        if cache_key not in self.cache:
            if kind == "tenant":
                query = select(Tenant.id).where(Tenant.key == key)
            elif kind == "queue":
                query = select(Queue.id).where(Queue.name == key)
            elif kind == "company":
                query = select(Company.id).where(Company.apelido == key)
            else:
                query = select(User.id).where(func.lower(User.email) == key.lower())
            self.cache[cache_key] = db.session.scalar(query)
        return self.cache[cache_key]


def restore_archive(path: str) -> RestoreResult:
    result = RestoreResult()
    lookup = _Lookup()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                result.skip("linha_invalida")
                continue
            if record.get("format") != FORMAT:
                result.skip("formato_desconhecido")
                continue
            _restore_one(record, lookup, result)
    db.session.flush()
    return result


def _restore_one(record: dict, lookup: _Lookup, result: RestoreResult) -> None:
    data = record["ticket"]
    tenant_id = lookup.get("tenant", None, data["tenant"])
    if tenant_id is None:
        result.skip("tenant_inexistente")
        return
    with tenancy.scope(tenant_id):  # the ticket goes back among its own tenant's rows
        _restore_ticket(record, tenant_id, lookup, result)


def _restore_ticket(record: dict, tenant_id: int, lookup: _Lookup, result: RestoreResult) -> None:
    data = record["ticket"]
    exists = db.session.scalar(select(Ticket.id).where(Ticket.reference == data["reference"]))
    if exists:
        result.already_present += 1
        return
    queue_id = lookup.get("queue", tenant_id, data["queue"])
    requester_id = lookup.get("user", tenant_id, data["requester"])
    if queue_id is None or requester_id is None:
        result.skip("fila_ou_solicitante_inexistente")
        return
    values = {name: data[name] for name in TICKET_FIELDS}
    for name in DATETIME_FIELDS:
        values[name] = datetime.fromisoformat(values[name]) if values[name] else None
    values.update(
        tenant_id=tenant_id,
        queue_id=queue_id,
        requester_id=requester_id,
        company_id=lookup.get("company", tenant_id, data.get("company")),
        assignee_id=lookup.get("user", tenant_id, data.get("assignee")),
        archived_at=utcnow(),  # it is in an archive file already
    )
    # Core inserts: the rows go back exactly as archived (no re-sanitising, no new timestamps).
    ticket_id = db.session.execute(
        insert(Ticket.__table__).values(**values).returning(Ticket.__table__.c.id)
    ).scalar_one()
    comments = []
    for comment in record.get("comments", []):
        author_id = lookup.get("user", tenant_id, comment.get("author"))
        if author_id is None:
            result.skip("comentario_sem_autor")
            continue
        comments.append(
            {
                "ticket_id": ticket_id,
                "author_id": author_id,
                "body_html": comment["body_html"],
                "visibility": comment["visibility"],
                "created_at": datetime.fromisoformat(comment["created_at"]),
            }
        )
    events = [
        {
            "ticket_id": ticket_id,
            "type": event["type"],
            "payload": event.get("payload") or {},
            "actor_id": lookup.get("user", tenant_id, event.get("actor")),
            "created_at": datetime.fromisoformat(event["created_at"]),
        }
        for event in record.get("events", [])
    ]
    if comments:
        db.session.execute(insert(Comment.__table__), comments)
    if events:
        db.session.execute(insert(TicketEvent.__table__), events)
    # A ticket restored into a rebuilt database must not collide with the next new number.
    db.session.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id, Tenant.ticket_sequence < data["reference"])
        .values(ticket_sequence=data["reference"])
    )
    result.restored += 1
    result.comments += len(comments)
    result.events += len(events)
