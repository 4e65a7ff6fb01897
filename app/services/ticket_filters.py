"""The ticket list's filters, sorting and keyset pagination.

`parse_filters` turns query-string arguments into a `TicketFilters` (refusing
unknown ids with a clear message, clamping out-of-range numbers), and
`list_tickets` runs it. The same object renders back to a canonical query
string, which is what "Salvar como padrão" and "Minhas visões" store, and into
the chips above the list (`filter_chips`: each one the query without that filter).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    Integer,
    Select,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.orm import aliased

from app.db_sqlite import FOLD_FUNCTION, search_fold
from app.extensions import db
from app.models import STAFF_ROLES, Company, Queue, Ticket, TicketPriority, TicketStatus, User
from app.services.errors import DomainError
from app.services.numbers import record_number
from app.services.permissions import visible_tickets

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
COUNT_CAP = 1000
UNASSIGNED = "nenhum"
# Must match the expression of the GIN index created in migration 0002.
SEARCH_VECTOR_SQL = "to_tsvector('chamados_pt', tickets.subject || ' ' || tickets.description_text)"

SORT_COLUMNS = {
    "referencia": Ticket.reference,
    "criado": Ticket.created_at,
    "atualizado": Ticket.updated_at,
    "prioridade": Ticket.priority_rank,
}
SORT_LABELS = {
    "referencia": "Número",
    "criado": "Criação",
    "atualizado": "Atualização",
    "prioridade": "Prioridade",
}


class FilterError(DomainError):
    status = 400
    code = "invalid_filter"


@dataclass
class TicketFilters:
    statuses: list[TicketStatus] = field(default_factory=list)
    priorities: list[TicketPriority] = field(default_factory=list)
    queue_id: int | None = None
    company_id: int | None = None
    assignee: int | str | None = None  # a user id, UNASSIGNED, or None for everyone
    requester: str = ""
    text: str = ""
    created_from: date | None = None
    created_to: date | None = None
    sort: str = "criado"
    direction: str = "desc"
    per_page: int = DEFAULT_PAGE_SIZE

    def to_params(self) -> list[tuple[str, str]]:
        """Canonical query parameters (defaults left out), for links and saved views."""
        params: list[tuple[str, str]] = [("status", s.value) for s in self.statuses]
        params += [("prioridade", p.value) for p in self.priorities]
        optional = {
            "fila": self.queue_id,
            "empresa": self.company_id,
            "responsavel": self.assignee,
            "solicitante": self.requester,
            "q": self.text,
            "de": self.created_from.isoformat() if self.created_from else None,
            "ate": self.created_to.isoformat() if self.created_to else None,
        }
        params += [(key, str(value)) for key, value in optional.items() if value not in (None, "")]
        if self.sort != "criado":
            params.append(("ordem", self.sort))
        if self.direction != "desc":
            params.append(("direcao", self.direction))
        if self.per_page != DEFAULT_PAGE_SIZE:
            params.append(("por_pagina", str(self.per_page)))
        return params

    def query_string(self) -> str:
        return urlencode(self.to_params())

    def sorted_by(self, sort: str) -> str:
        """The query string sorted by `sort`: newest/highest first, or flipped when already so."""
        direction = "asc" if self.sort == sort and self.direction == "desc" else "desc"
        params = [(k, v) for k, v in self.to_params() if k not in ("ordem", "direcao")]
        if sort != "criado":
            params.append(("ordem", sort))
        if direction != "desc":
            params.append(("direcao", direction))
        return urlencode(params)

    @property
    def is_default(self) -> bool:
        return not self.to_params()


def _int(value: str, label: str) -> int:
    number = record_number(value)
    if number is None:
        raise FilterError(f"{label} inválido: escolha um da lista.")
    return number


def _date(value: str, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"Data {label} inválida: use AAAA-MM-DD.") from None


def _enum_list(values: list[str], enum_class, label: str) -> list:
    chosen = []
    for value in values:
        if not value:
            continue
        try:
            member = enum_class(value.upper())
        except ValueError:
            raise FilterError(f"{label} desconhecido: {value!r}.") from None
        if member not in chosen:
            chosen.append(member)
    return chosen


def _clamp(value: str | None, low: int, high: int, default: int) -> int:
    try:
        return max(low, min(high, int(value)))
    except (TypeError, ValueError):
        return default


def parse_filters(args, tenant_id: int) -> TicketFilters:
    """Read the list's query string. Ids must exist in this tenant, or it is a 400."""
    filters = TicketFilters(
        statuses=_enum_list(args.getlist("status"), TicketStatus, "Status"),
        priorities=_enum_list(args.getlist("prioridade"), TicketPriority, "Prioridade"),
        requester=" ".join(args.get("solicitante", "").split())[:120],
        text=" ".join(args.get("q", "").split())[:200],
        created_from=_date(args.get("de", ""), "inicial"),
        created_to=_date(args.get("ate", ""), "final"),
        per_page=_clamp(args.get("por_pagina"), 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
    )
    sort = args.get("ordem", "criado")
    filters.sort = sort if sort in SORT_COLUMNS else "criado"
    filters.direction = "asc" if args.get("direcao") == "asc" else "desc"

    if args.get("fila"):
        filters.queue_id = _int(args["fila"], "Fila")
        queue = db.session.get(Queue, filters.queue_id)
        if queue is None or queue.tenant_id != tenant_id:
            raise FilterError("Fila não encontrada.")
    if args.get("empresa"):
        filters.company_id = _int(args["empresa"], "Empresa")
        company = db.session.get(Company, filters.company_id)
        if company is None or company.tenant_id != tenant_id:
            raise FilterError("Empresa não encontrada.")
    assignee = args.get("responsavel", "")
    if assignee == UNASSIGNED:
        filters.assignee = UNASSIGNED
    elif assignee:
        filters.assignee = _int(assignee, "Responsável")
        user = db.session.get(User, filters.assignee)
        if user is None or user.tenant_id != tenant_id or not user.is_staff:
            raise FilterError("Responsável não encontrado: escolha um agente ou administrador da lista.")
    return filters


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _like_escaped(term: str) -> str:
    """A term matched as typed: its % and _ are letters, not LIKE's wildcards."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_condition(term: str):
    reference = term.lstrip("#")
    by_reference = Ticket.reference == int(reference) if reference.isdigit() else None
    if db.engine.dialect.name == "postgresql":
        matches = text(f"{SEARCH_VECTOR_SQL} @@ websearch_to_tsquery('chamados_pt', :term)").bindparams(
            term=term
        )
    else:  # SQLite: a substring match ignoring case and accents, as PostgreSQL's search does
        pattern = "%" + _like_escaped(search_fold(term)) + "%"
        fold = getattr(func, FOLD_FUNCTION)
        matches = or_(
            fold(Ticket.subject).like(pattern, escape="\\"),
            fold(Ticket.description_text).like(pattern, escape="\\"),
        )
    return or_(by_reference, matches) if by_reference is not None else matches


def filtered_query(user: User, filters: TicketFilters, timezone: str) -> Select:
    """The tickets the user may see, narrowed by the filters (no order, no limit)."""
    query = visible_tickets(user)
    if filters.statuses:
        query = query.where(Ticket.status.in_(filters.statuses))
    if filters.priorities:
        query = query.where(Ticket.priority.in_(filters.priorities))
    if filters.queue_id:
        query = query.where(Ticket.queue_id == filters.queue_id)
    if filters.company_id:
        query = query.where(Ticket.company_id == filters.company_id)
    if filters.assignee == UNASSIGNED:
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Ticket.assignee_id == filters.assignee)
    if filters.requester:
        typed = filters.requester.lower()  # "%" and "_" are what was typed, not wildcards
        requesters = select(User.id).where(
            or_(
                func.lower(User.name).contains(typed, autoescape=True),
                func.lower(User.email).contains(typed, autoescape=True),
            )
        )
        if db.engine.dialect.name == "postgresql":
            # The people first, as a list: PostgreSQL cannot estimate a LIKE '%…%' (it guessed one
            # person where a name matched a hundred, and sorted their 28 000 tickets); given the
            # list it knows how many tickets to expect, and walks the sort's index when many match.
            people = db.session.scalars(requesters).all()
            query = query.where(Ticket.requester_id == any_(bindparam("requesters", people, ARRAY(Integer))))
        else:
            query = query.where(Ticket.requester_id.in_(requesters))
    if filters.text:
        query = query.where(_text_condition(filters.text))
    zone = ZoneInfo(timezone)
    if filters.created_from:
        query = query.where(Ticket.created_at >= _day_start(filters.created_from, zone))
    if filters.created_to:
        query = query.where(Ticket.created_at < _day_start(filters.created_to + timedelta(days=1), zone))
    return query


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


def _sorted_within_a_short_range(filters: TicketFilters) -> bool:
    if filters.sort == "criado" or not (filters.created_from and filters.created_to):
        return False
    return (filters.created_to - filters.created_from).days <= SHORT_RANGE_DAYS


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
    """
    column = SORT_COLUMNS[filters.sort]
    forwards = not before
    ascending = (filters.direction == "asc") == forwards
    keyset = None
    if cursor or before:
        value, ticket_id = decode_cursor(before or cursor, filters.sort)
        key = tuple_(column, Ticket.id)
        keyset = key > (value, ticket_id) if ascending else key < (value, ticket_id)
    order = (column.asc(), Ticket.id.asc()) if ascending else (column.desc(), Ticket.id.desc())
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
    elif _sorted_within_a_short_range(filters):
        # A creation range sorted by anything else: PostgreSQL walked the sort's index from the
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
        range_order = (
            (in_range.c.sort_key.asc(), in_range.c.id.asc())
            if ascending
            else (in_range.c.sort_key.desc(), in_range.c.id.desc())
        )
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


# --- chips: the active filters above the list -------------------------------

# Parameters that are filters (a chip each); ordem, direcao and por_pagina are not.
CHIP_LABELS = {
    "status": "Status",
    "prioridade": "Prioridade",
    "fila": "Fila",
    "empresa": "Empresa",
    "responsavel": "Responsável",
    "solicitante": "Solicitante",
    "q": "Busca",
    "de": "Criado de",
    "ate": "Criado até",
}


@dataclass(frozen=True)
class FilterChip:
    label: str  # "Status: Pendente"
    query: str  # the list's query string without this filter


def filter_chips(filters: TicketFilters, queues=(), companies=(), assignees=()) -> list[FilterChip]:
    """One chip per active filter value, in the order of the canonical query string. Names come
    from the filter form's choices (queues, companies, assignees), already loaded for the page."""
    # Each chip's name is looked up when it is shown (a page has a few chips), rather than maps
    # of every choice (every company of the tenant) built on each request.
    choices = {
        "status": lambda: ((s.value, s.label) for s in TicketStatus),
        "prioridade": lambda: ((p.value, p.label) for p in TicketPriority),
        "fila": lambda: ((str(q.id), q.name) for q in queues),
        "empresa": lambda: ((str(c.id), c.apelido) for c in companies),
        "responsavel": lambda: [(UNASSIGNED, "Sem responsável"), *((str(u.id), u.name) for u in assignees)],
    }

    def name_of(key: str, value: str) -> str:
        return next((name for choice, name in choices[key]() if choice == value), value)

    params = filters.to_params()
    chips = []
    for index, (key, value) in enumerate(params):
        if key not in CHIP_LABELS:
            continue
        shown = name_of(key, value) if key in choices else value
        if key in ("de", "ate"):
            shown = date.fromisoformat(value).strftime("%d/%m/%Y")
        elif key == "q":
            shown = f"“{value}”"
        rest = params[:index] + params[index + 1 :]
        chips.append(FilterChip(label=f"{CHIP_LABELS[key]}: {shown}", query=urlencode(rest)))
    return chips


# --- choices for the filter form ------------------------------------------


# Choices are plain rows (id, label): the forms need nothing else, and rows are
# several times cheaper than full ORM objects on every list request.


def assignee_choices() -> list:
    """Active staff (id, name): who can be filtered by and assigned."""
    return db.session.execute(
        select(User.id, User.name)
        .where(User.is_active.is_(True), User.role.in_(STAFF_ROLES))
        .order_by(User.name)
    ).all()


def company_choices() -> list:
    """Every active company (id, apelido, name) of the tenant, not only those with tickets."""
    return db.session.execute(
        select(Company.id, Company.apelido, Company.name)
        .where(Company.is_active.is_(True))
        .order_by(Company.apelido)
    ).all()


def queue_choices() -> list:
    """The tenant's queues (id, name), by name."""
    return db.session.execute(select(Queue.id, Queue.name).order_by(Queue.name)).all()
