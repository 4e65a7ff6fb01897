"""The ticket list's pages: keyset pagination and how each page is read.

`list_tickets` reads one page of what `ticket_filters.filtered_query` selects, after or before a
row's (sort key, id) cursor, as plain `TicketRow`s; `count_tickets` counts up to COUNT_CAP.
`page_query` chooses how a page is read so that it costs a few short index reads whatever the
table's size or shape (one branch per status, or per day of a creation range).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    Date,
    Select,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Company, Queue, Ticket, TicketPriority, TicketStatus, User
from app.models.schema_support import CREATED_DAY_INDEXES
from app.services.permissions import visible_tickets
from app.services.ticket_filters import (
    SORT_COLUMNS,
    FilterError,
    TicketFilters,
    day_start,
    filtered_query,
)

COUNT_CAP = 1000

# --- keyset pagination ----------------------------------------------------


def encode_cursor(ticket: Ticket | TicketRow, sort: str) -> str:
    value = getattr(ticket, SORT_COLUMNS[sort].key)
    if isinstance(value, datetime):
        value = value.astimezone(UTC).isoformat()
    raw = json.dumps([value, ticket.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, ticket_id = json.loads(raw)
        if sort in ("criado", "atualizado"):
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int):
            raise ValueError
        if not isinstance(ticket_id, int):
            raise ValueError
    except (ValueError, TypeError, json.JSONDecodeError):
        raise FilterError("Página inválida; volte para a primeira página.") from None
    return value, ticket_id


@dataclass(slots=True)
class TicketRow:
    """One line of the list: the few values it shows, read as one plain row (no ORM entity, its
    relations, identity map or expiry on commit: those cost more than the query at 25-100 rows)."""

    id: int
    reference: int
    subject: str
    status: TicketStatus
    priority: TicketPriority
    priority_rank: int
    created_at: datetime
    updated_at: datetime
    worked_seconds: int
    in_progress_since: datetime | None
    queue_name: str
    company_apelido: str | None
    company_name: str | None
    requester_name: str
    assignee_name: str | None

    # The ticket's own rule (it reads only status, worked_seconds and in_progress_since).
    worked_seconds_now = property(Ticket.worked_seconds_now.fget)


_requester, _assignee = aliased(User), aliased(User)
# TicketRow's fields, in order. Outer joins, as the tenant's gate adds its criterion to each ON.
LIST_COLUMNS = (
    Ticket.id,
    Ticket.reference,
    Ticket.subject,
    Ticket.status,
    Ticket.priority,
    Ticket.priority_rank,
    Ticket.created_at,
    Ticket.updated_at,
    Ticket.worked_seconds,
    Ticket.in_progress_since,
    Queue.name,
    Company.apelido,
    Company.name,
    _requester.name,
    _assignee.name,
)


def _with_list_columns(query: Select) -> Select:
    return (
        query.with_only_columns(*LIST_COLUMNS)
        .select_from(Ticket)
        .outerjoin(Queue, Ticket.queue_id == Queue.id)
        .outerjoin(Company, Ticket.company_id == Company.id)
        .outerjoin(_requester, Ticket.requester_id == _requester.id)
        .outerjoin(_assignee, Ticket.assignee_id == _assignee.id)
    )


@dataclass
class TicketPage:
    tickets: list[TicketRow]
    next_cursor: str | None  # the next page: the rows after this one's last
    previous_cursor: str | None = None  # the previous page: the rows before this one's first


@dataclass
class TicketCount:
    total: int  # at most COUNT_CAP
    capped: bool  # there are more than COUNT_CAP


def _per_status(filters: TicketFilters) -> bool:
    """Whether the page is read as one branch per status (see `page_query`)."""
    if filters.sort != "criado":
        return False  # only created_at ends the per-status indexes
    narrowed = filters.company_id or filters.assignee or filters.queue_id
    return len(filters.statuses) > 1 or (not filters.statuses and bool(narrowed))


SHORT_RANGE_DAYS = 92  # a creation range up to a quarter is read whole and sorted (see page_query)


def _in_order(sort_key, ticket_id, ascending: bool) -> tuple:
    """ORDER BY the sort key, then the id (the tie-break every page and cursor relies on)."""
    return (sort_key.asc(), ticket_id.asc()) if ascending else (sort_key.desc(), ticket_id.desc())


def _sorted_within_a_short_range(filters: TicketFilters) -> bool:
    if filters.sort == "criado" or not (filters.created_from and filters.created_to):
        return False
    return (filters.created_to - filters.created_from).days <= SHORT_RANGE_DAYS


DAY_BY_DAY_MAX_DAYS = 366  # a year: ~370 short index reads; longer ranges are read as any other list
# The day of migration 0021's CREATED_DAY_INDEXES: the query must use this very expression.
created_day = cast(func.timezone(literal_column("'UTC'"), Ticket.created_at), Date)


def _walked_day_by_day(filters: TicketFilters) -> bool:
    """A creation range and nothing else, sorted by a column with a creation-day index (any but
    creation itself), on PostgreSQL."""
    narrowed = (
        filters.statuses
        or filters.priorities
        or filters.queue_id
        or filters.company_id
        or filters.assignee
        or filters.requester
        or filters.text
    )
    two_sided = filters.created_from and filters.created_to
    if filters.sort not in CREATED_DAY_INDEXES or not two_sided or narrowed:
        return False
    days = (filters.created_to - filters.created_from).days
    return days <= DAY_BY_DAY_MAX_DAYS and db.engine.dialect.name == "postgresql"


def _range_days(filters: TicketFilters, timezone: str) -> list[date]:
    """The UTC days the creation range touches (its ends are midnights in the tenant's zone)."""
    zone = ZoneInfo(timezone)
    start = day_start(filters.created_from, zone)
    end = day_start(filters.created_to + timedelta(days=1), zone) - timedelta(microseconds=1)
    return [start.date() + timedelta(days=n) for n in range((end.date() - start.date()).days + 1)]


def _page_of_a_range_day_by_day(
    in_range: Select, filters: TicketFilters, timezone: str, ascending: bool, limit: int
):
    """The page's ids as the first `limit` of each day's first `limit`, each an ordered walk of
    its (tenant, day, sort column, id) index: about 26 rows a day, a year at most, however
    many tickets the range holds. Read whole and sorted (the short-range path), a month at
    5 000 000 tickets (200 000 rows) took 120-290 ms p95, and grew with the range's density;
    day by day it is ~2.5 ms, a year ~8 ms."""
    column = SORT_COLUMNS[filters.sort]
    days = (
        func.unnest(bindparam("range_days", _range_days(filters, timezone), type_=ARRAY(Date)))
        .table_valued("day")
        .render_derived(name="range_days")
    )
    one_day = (
        in_range.where(created_day == days.c.day)
        .with_only_columns(Ticket.id, column.label("sort_key"))
        .order_by(*_in_order(column, Ticket.id, ascending))
        .limit(limit)
        .lateral("one_day")
    )
    merged = _in_order(one_day.c.sort_key, one_day.c.id, ascending)
    return (
        select(one_day.c.id).select_from(days).join(one_day, true()).order_by(*merged).limit(limit).subquery()
    )


def page_query(
    user: User, filters: TicketFilters, cursor: str | None, timezone: str, before: str | None = None
) -> tuple[Select, bool]:
    """The statement of one page, per_page + 1 rows in the order read, and whether it reads
    forwards (after `cursor`, or the first page) or backwards (before `before`).

    Sorted by creation, a list narrowed to several statuses, or to a company, an assignee or
    a queue, is read as one ordered branch per status, each the first per_page + 1 rows of its
    own (tenant, company | assignee | queue | -, status, created_at, id) index (migration 0018),
    and the page is the first per_page + 1 of their union: at most four short index reads,
    whatever the table's size or shape. As one query (`status IN (…)`, or no status at all)
    those indexes are ordered by status first, so PostgreSQL must either read every matching
    row and sort them, or walk the whole table's created_at index discarding the rest; at a
    million tickets either can cost a hundred milliseconds, and which one it picks rests on
    estimates that the data's shape (a large company, a former client's old tickets, tickets
    left open for a year) easily fools.

    A creation range alone, sorted by anything else, is read the same way on PostgreSQL: one
    ordered branch per day of the range (`_page_of_a_range_day_by_day`, migration 0021).
    """
    column = SORT_COLUMNS[filters.sort]
    forwards = not before
    ascending = (filters.direction == "asc") == forwards
    keyset = None
    if cursor or before:
        value, ticket_id = decode_cursor(before or cursor, filters.sort)
        key = tuple_(column, Ticket.id)
        keyset = key > (value, ticket_id) if ascending else key < (value, ticket_id)
    order = _in_order(column, Ticket.id, ascending)
    limit = filters.per_page + 1

    def narrowed(query: Select) -> Select:
        return query if keyset is None else query.where(keyset)

    if _per_status(filters):
        # Each branch is ordered as its index is (the filter's column, status, created_at, id):
        # the same order, as those are fixed within it, but said so the planner needs no
        # equality to see it. `assignee_id IS NULL` is none, and without this PostgreSQL sorted
        # the unassigned ones, or walked a million rows of the created index for a status they
        # never have.
        lead = (
            [Ticket.assignee_id]
            if filters.assignee
            else [Ticket.company_id]
            if filters.company_id
            else [Ticket.queue_id]
            if filters.queue_id
            else []
        )
        lead.append(Ticket.status)
        branch_order = [c.asc() if ascending else c.desc() for c in lead] + list(order)
        # Built once (the requester filter reads its people here), narrowed per branch.
        every_status = narrowed(filtered_query(user, replace(filters, statuses=[]), timezone))
        branches = [
            every_status.where(Ticket.status == status)
            .with_only_columns(Ticket.id)
            .order_by(*branch_order)
            .limit(limit)
            .subquery()
            for status in filters.statuses or list(TicketStatus)
        ]
        page_ids = union_all(*(select(branch.c.id) for branch in branches)).subquery()
    elif _walked_day_by_day(filters):
        page_ids = _page_of_a_range_day_by_day(
            narrowed(filtered_query(user, filters, timezone)), filters, timezone, ascending, limit
        )
    elif _sorted_within_a_short_range(filters):
        # A creation range with other filters too (or any, on SQLite), sorted by anything else:
        # the range alone is read day by day above. PostgreSQL walked the sort's index from the
        # newest ticket down, discarding everything created outside the range (a month of a
        # year ago: 90 000 rows at 200 000 tickets, 650 ms at a million). The range's own rows,
        # read from the created_at index and sorted, are what a month or a quarter holds,
        # however large the table grows. OFFSET 0 keeps the planner from folding the subquery
        # back into the sorted walk; unlike a MATERIALIZED CTE (the previous fence) it does not
        # copy the range's rows into a tuplestore first: a month at a million tickets (42 000
        # rows) is read and top-N sorted in ~13-18 ms instead of ~17-26 ms.
        in_range = (
            narrowed(filtered_query(user, filters, timezone))
            .with_only_columns(Ticket.id, column.label("sort_key"))
            .offset(literal_column("0"))
            .subquery("in_range")
        )
        range_order = _in_order(in_range.c.sort_key, in_range.c.id, ascending)
        page_ids = select(in_range.c.id).order_by(*range_order).limit(limit).subquery()
    else:
        page_ids = (
            narrowed(filtered_query(user, filters, timezone))
            .with_only_columns(Ticket.id)
            .order_by(*order)
            .limit(limit)
            .subquery()
        )
    # The page's ids first, then its rows with their names: the joins see per_page + 1 rows,
    # never every match (when the matches must be sorted, PostgreSQL joined them all first).
    query = _with_list_columns(visible_tickets(user)).where(Ticket.id.in_(select(page_ids.c.id)))
    return query.order_by(*order).limit(limit), forwards


def list_tickets(
    user: User, filters: TicketFilters, cursor: str | None, timezone: str, before: str | None = None
) -> TicketPage:
    """One page of the list: the first, the one after `cursor` (a row's sort key and id), or the
    one just before `before` (read backwards, then turned round). Either way one indexed query of
    per_page + 1 rows: the extra row says whether there is more in the direction read."""
    query, forwards = page_query(user, filters, cursor, timezone, before)
    rows = [TicketRow(*row) for row in db.session.execute(query)]
    has_more = len(rows) > filters.per_page
    rows = rows[: filters.per_page]
    if not forwards and not has_more:
        # Back at the start (or a page shortened by tickets gone meanwhile): the real first page.
        return list_tickets(user, filters, None, timezone)
    if not forwards:
        rows.reverse()
    if not rows:
        return TicketPage(tickets=[], next_cursor=None)
    first, last = encode_cursor(rows[0], filters.sort), encode_cursor(rows[-1], filters.sort)
    if forwards:  # a page reached forwards has a previous one unless it is the first
        return TicketPage(rows, last if has_more else None, previous_cursor=first if cursor else None)
    return TicketPage(rows, next_cursor=last, previous_cursor=first)


def count_tickets(user: User, filters: TicketFilters, timezone: str) -> TicketCount:
    """How many tickets match, counting at most COUNT_CAP + 1 rows: never a whole large table.

    The list asks for this in a separate request after it is shown, because a
    common search word can match a large share of the table, and even a capped
    count must then read the word's whole index entry.
    """
    base = filtered_query(user, filters, timezone)
    limited = base.with_only_columns(Ticket.id).order_by(None).limit(COUNT_CAP + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(limited))
    return TicketCount(total=min(total, COUNT_CAP), capped=total > COUNT_CAP)
