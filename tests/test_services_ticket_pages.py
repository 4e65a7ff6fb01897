"""The ticket list's pages (app/services/ticket_pages.py): keyset pages both ways, each way a page
is read (one branch per status, a creation range whole or day by day), and the capped count."""

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Company, Role, TicketPriority, TicketStatus
from app.models.schema_support import CREATED_DAY_INDEXES
from app.services.ticket_filters import FilterError, parse_filters
from app.services.ticket_pages import COUNT_CAP, count_tickets, list_tickets
from tests.conftest import TEST_DATABASE_URL, make_user

TZ = "America/Sao_Paulo"


def _pages_forwards(user, filters):
    """Every page of the list, following "Próxima" from the first."""
    pages, cursor = [], None
    while True:
        pages.append(list_tickets(user, filters, cursor, TZ))
        cursor = pages[-1].next_cursor
        if not cursor:
            return pages


def _assert_pages_both_ways(user, filters, expected):
    """Read forwards, the pages are `expected` in order; read back from the last through each
    page's previous_cursor, each page is the one read forwards."""
    forwards = _pages_forwards(user, filters)
    assert [t.reference for page in forwards for t in page.tickets] == expected
    page = forwards[-1]
    for earlier in reversed(forwards[:-1]):
        page = list_tickets(user, filters, None, TZ, before=page.previous_cursor)
        assert [t.reference for t in page.tickets] == [t.reference for t in earlier.tickets]


@pytest.mark.parametrize("sort", ["referencia", "criado", "atualizado", "prioridade"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_keyset_pages_cover_every_ticket_once_even_with_ties(agent_user, make_ticket, sort, direction):
    same_moment = datetime(2026, 5, 1, 9, tzinfo=UTC)
    tickets = [make_ticket(f"T{i}", priority=list(TicketPriority)[i % 2]) for i in range(23)]
    for ticket in tickets:  # identical timestamps: only the id breaks the tie
        ticket.created_at = ticket.updated_at = same_moment
    db.session.commit()
    filters = parse_filters(
        MultiDict({"ordem": sort, "direcao": direction, "por_pagina": "5"}), agent_user.tenant_id
    )
    seen = [t.reference for page in _pages_forwards(agent_user, filters) for t in page.tickets]
    assert sorted(seen) == sorted(t.reference for t in tickets) and len(seen) == 23


@pytest.mark.parametrize("sort", ["criado", "prioridade"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_previous_pages_read_backwards_are_the_pages_read_forwards(agent_user, make_ticket, sort, direction):
    same_moment = datetime(2026, 5, 1, 9, tzinfo=UTC)
    tickets = [make_ticket(f"T{i}", priority=list(TicketPriority)[i % 3]) for i in range(12)]
    for ticket in tickets[:6]:  # ties: only the id orders them
        ticket.created_at = same_moment
    db.session.commit()
    filters = parse_filters(
        MultiDict({"ordem": sort, "direcao": direction, "por_pagina": "5"}), agent_user.tenant_id
    )
    forwards = _pages_forwards(agent_user, filters)
    assert [len(page.tickets) for page in forwards] == [5, 5, 2]
    assert forwards[0].previous_cursor is None and all(page.previous_cursor for page in forwards[1:])
    # From the last page back to the first, through each page's previous_cursor.
    page = forwards[-1]
    for expected in reversed(forwards[:-1]):
        page = list_tickets(agent_user, filters, None, TZ, before=page.previous_cursor)
        assert [t.reference for t in page.tickets] == [t.reference for t in expected.tickets]
        assert page.next_cursor == expected.next_cursor
    assert page.previous_cursor is None  # back at the first page


@pytest.mark.parametrize(
    "args",
    [
        {"status": ["PENDING", "PAUSED", "RESOLVED"]},  # several statuses
        {"empresa": None},  # a company, no status: every status
        {"empresa": None, "status": ["PENDING", "RESOLVED"]},
        {"responsavel": "nenhum"},  # nobody's tickets, every status
    ],
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_pages_read_one_status_at_a_time_are_the_list_in_order(
    tenant, company, agent_user, make_ticket, args, direction
):
    """Several statuses (or none, with a company or assignee) are read as one branch per status
    (page_query): the pages, forwards and back, are still the whole list in order, ties included."""
    other = Company(tenant_id=tenant.id, name="Outra", apelido="outra")
    db.session.add(other)
    db.session.flush()
    same_moment = datetime(2026, 5, 1, 9, tzinfo=UTC)
    statuses = list(TicketStatus)
    tickets = []
    for i in range(17):
        ticket = make_ticket(f"T{i}")
        ticket.company_id = (company if i % 4 else other).id
        ticket.status = statuses[i % 4]
        ticket.assignee_id = None if i % 3 else agent_user.id
        ticket.created_at = same_moment if i < 6 else datetime(2026, 5, 2 + i % 5, tzinfo=UTC)
        tickets.append(ticket)
    db.session.commit()
    query = {k: (v if v is not None else str(company.id)) for k, v in args.items()}
    multi = MultiDict([(k, item) for k, v in query.items() for item in (v if isinstance(v, list) else [v])])
    multi.update({"direcao": direction, "por_pagina": "4"})
    filters = parse_filters(multi, agent_user.tenant_id)
    wanted = [
        t
        for t in tickets
        if (not filters.statuses or t.status in filters.statuses)
        and (not filters.company_id or t.company_id == filters.company_id)
        and (filters.assignee != "nenhum" or t.assignee_id is None)
    ]
    expected = [
        t.reference for t in sorted(wanted, key=lambda t: (t.created_at, t.id), reverse=direction == "desc")
    ]
    _assert_pages_both_ways(agent_user, filters, expected)


@pytest.mark.parametrize("sort", ["atualizado", "prioridade", "referencia"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_a_short_creation_range_sorted_otherwise_pages_in_order(agent_user, make_ticket, sort, direction):
    """A creation range of up to a quarter with another filter (a status) is read whole and
    sorted (page_query), on every database: its pages, forwards and back, are the range's
    tickets of that status in the asked order, ties included, none outside."""
    inside, outside = [], []
    for i in range(14):
        ticket = make_ticket(f"T{i}", priority=list(TicketPriority)[i % 3])
        ticket.created_at = datetime(2026, 3, 1 + i, 12, tzinfo=UTC)
        ticket.updated_at = datetime(2026, 6, 1 + i % 4, tzinfo=UTC)  # ties: only the id orders them
        if i % 5 == 2:
            ticket.status = TicketStatus.PAUSED
        (inside if i < 11 and i % 5 != 2 else outside).append(ticket)
    db.session.commit()
    args = {
        "de": "2026-03-01",
        "ate": "2026-03-11",
        "status": "PENDING",
        "ordem": sort,
        "direcao": direction,
        "por_pagina": "4",
    }
    filters = parse_filters(MultiDict(args), agent_user.tenant_id)
    key = {"atualizado": "updated_at", "prioridade": "priority_rank", "referencia": "reference"}[sort]
    in_order = sorted(inside, key=lambda t: (getattr(t, key), t.id), reverse=direction == "desc")
    expected = [t.reference for t in in_order]
    _assert_pages_both_ways(agent_user, filters, expected)


@pytest.mark.parametrize("sort", ["atualizado", "prioridade", "referencia"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_a_creation_range_read_day_by_day_keeps_its_edges_and_order(agent_user, make_ticket, sort, direction):
    """On PostgreSQL a range alone is read a UTC day at a time and merged (page_query): a day
    holding more than a page, and the range's ends at midnight in São Paulo (03:00 UTC), still
    give the range's tickets, each once, in order; on SQLite the same list read whole."""
    created = [
        (datetime(2026, 3, 1, 2, 59, tzinfo=UTC), False),  # 28 Feb, 23:59 in São Paulo
        (datetime(2026, 3, 1, 3, 0, tzinfo=UTC), True),  # 1 March, 00:00
        *[(datetime(2026, 3, 2, 10 + i, tzinfo=UTC), True) for i in range(7)],  # a day of 7
        (datetime(2026, 3, 4, 2, 59, tzinfo=UTC), True),  # 3 March, 23:59
        (datetime(2026, 3, 4, 3, 0, tzinfo=UTC), False),  # 4 March, 00:00
    ]
    inside = []
    for i, (moment, wanted) in enumerate(created):
        ticket = make_ticket(f"T{i}", priority=list(TicketPriority)[i % 3])
        ticket.created_at = moment
        ticket.updated_at = datetime(2026, 6, 1 + i % 3, tzinfo=UTC)  # ties across days
        if wanted:
            inside.append(ticket)
    db.session.commit()
    args = {"de": "2026-03-01", "ate": "2026-03-03", "ordem": sort, "direcao": direction, "por_pagina": "3"}
    filters = parse_filters(MultiDict(args), agent_user.tenant_id)
    key = {"atualizado": "updated_at", "prioridade": "priority_rank", "referencia": "reference"}[sort]
    in_order = sorted(inside, key=lambda t: (getattr(t, key), t.id), reverse=direction == "desc")
    _assert_pages_both_ways(agent_user, filters, [t.reference for t in in_order])


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="the creation-day indexes are PostgreSQL's")
@pytest.mark.parametrize("sort", ["atualizado", "prioridade", "referencia"])
def test_a_creation_range_sorted_otherwise_walks_its_day_index(agent_user, other_tenant, make_ticket, sort):
    """Each day's walk is an index read within the tenant (the gate reaches the LATERAL branch):
    another tenant's ticket of the same day is neither read nor listed."""
    from sqlalchemy import event, text

    from app.services import tenancy
    from app.services.tickets import create_ticket

    march = datetime(2026, 3, 10, 12, tzinfo=UTC)
    ours = make_ticket("Impressora", created_at=march)  # the model of the 20 000 below
    stranger = make_user(other_tenant, Role.COLLABORATOR, email="fora@outro.test")
    theirs = create_ticket(tenant_id=other_tenant.id, requester=stranger, subject="Alheio")
    theirs.created_at = march
    # 20 000 more of ours over four months, and fresh statistics: the plan of a real table, not
    # of a handful of rows (where any index, or none, is as good).
    db.session.execute(
        text(
            "INSERT INTO tickets (tenant_id, reference, subject, description_html, description_text,"
            " status, priority, priority_rank, queue_id, company_id, requester_id, created_at, updated_at,"
            " worked_seconds) SELECT tenant_id, reference + g, subject, '', '', 'RESOLVED', priority,"
            " priority_rank, queue_id, company_id, requester_id,"
            " timestamptz '2026-01-01' + g * interval '9 minutes',"
            " timestamptz '2026-06-01' - g * interval '1 minute', 0"
            " FROM tickets, generate_series(1, 20000) g WHERE id = :id"
        ),
        {"id": ours.id},
    )
    db.session.commit()
    db.session.execute(text("ANALYZE tickets"))
    args = {"de": "2026-03-01", "ate": "2026-03-31", "ordem": sort}
    filters = parse_filters(MultiDict(args), agent_user.tenant_id)
    sent = []  # the page's statement as sent (the tenant's gate and the days' array included)

    def keep(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        with tenancy.scope(agent_user.tenant_id):
            listed = list_tickets(agent_user, filters, None, TZ).tickets
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    # Theirs was updated last: read by a branch that ignored the gate, it would take a slot of
    # the page by atualização (and be dropped by the outer, gated query: 24 rows). The plan
    # below checks every sort.
    assert len(listed) == 25 and "Alheio" not in {t.subject for t in listed}
    statement, parameters = next((s, p) for s, p in sent if "LATERAL" in s)
    connection = db.session.connection()
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    connection.execute(text("SET LOCAL enable_bitmapscan = off"))
    plan = [row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)]
    db.session.rollback()
    walks = [i for i, line in enumerate(plan) if CREATED_DAY_INDEXES[sort] in line]
    assert walks and "tenant_id = " in plan[walks[0] + 1], "\n".join(plan)


def test_a_previous_page_that_reaches_the_start_is_the_whole_first_page(agent_user, make_ticket):
    tickets = [make_ticket(f"T{i}") for i in range(8)]
    filters = parse_filters(MultiDict({"por_pagina": "5", "ordem": "referencia"}), agent_user.tenant_id)
    first = list_tickets(agent_user, filters, None, TZ)
    # Before the first page's last row there are only four rows: "back" from there is the first page.
    started_late = list_tickets(agent_user, filters, None, TZ, before=first.next_cursor)
    assert started_late.previous_cursor is None
    newest = sorted((t.reference for t in tickets), reverse=True)[:5]
    assert [t.reference for t in started_late.tickets] == newest


def test_a_forged_cursor_is_a_400(agent_user):
    filters = parse_filters(MultiDict(), agent_user.tenant_id)
    with pytest.raises(FilterError, match="Página inválida"):
        list_tickets(agent_user, filters, "bm90LWpzb24", TZ)


def test_the_count_is_capped(agent_user, tenant, collaborator, monkeypatch):
    from app.services import ticket_pages
    from app.services.tickets import create_ticket

    monkeypatch.setattr(ticket_pages, "COUNT_CAP", 5)
    for i in range(7):
        create_ticket(tenant_id=tenant.id, requester=collaborator, subject=f"T{i}")
    db.session.commit()
    count = count_tickets(agent_user, parse_filters(MultiDict(), tenant.id), TZ)
    assert (count.total, count.capped) == (5, True)
    exact = count_tickets(agent_user, parse_filters(MultiDict({"q": "T1"}), tenant.id), TZ)
    assert (exact.total, exact.capped) == (1, False)
    assert COUNT_CAP == 1000
