"""The ticket list's filters and sorts.

`parse_filters` turns query-string arguments into a `TicketFilters` (refusing
unknown ids with a clear message, clamping out-of-range numbers), `filtered_query`
selects what it matches, and `ticket_pages.list_tickets` reads it a page at a
time. The same object renders back to a canonical query string, which is what
"Salvar como padrão" and "Minhas visões" store, and into the chips above the list
(`filter_chips`: each one the query without that filter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    or_,
    select,
    text,
)

from app.db_sqlite import FOLD_FUNCTION, search_fold
from app.extensions import db
from app.models import STAFF_ROLES, Company, Queue, Ticket, TicketPriority, TicketStatus, User
from app.services.errors import DomainError
from app.services.numbers import record_number
from app.services.permissions import visible_tickets

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
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


def day_start(day: date, zone: ZoneInfo) -> datetime:
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
        query = query.where(Ticket.created_at >= day_start(filters.created_from, zone))
    if filters.created_to:
        query = query.where(Ticket.created_at < day_start(filters.created_to + timedelta(days=1), zone))
    return query


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
