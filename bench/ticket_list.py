"""Benchmark: server time of the ticket list on a large PostgreSQL table.

    .venv/bin/python bench/ticket_list.py                    # 200 000 tickets, every case
    .venv/bin/python bench/ticket_list.py --tickets 1000000  # the target size
    .venv/bin/python bench/ticket_list.py --tickets 5000000 --cases worst   # growth, three cases
    .venv/bin/python bench/ticket_list.py --list             # the cases' names
    .venv/bin/python bench/ticket_list.py --explain "company large+status"  # its plan, analysed

Seeds its own database (BENCH_DATABASE_URL, default the local `chamados_bench`, created if
missing; reused when it already holds this size and shape) with N tickets shaped like a
helpdesk's: company sizes skewed (one client with ~13 % of the tickets, many with a few hundred,
a former client whose tickets are all over a year old), most tickets resolved but open ones
mostly recent (with some left open for a year), agents of uneven load (and one who left a
year ago), five queues of uneven size, priorities mostly Baixa/Média.

For each case (each filter alone and the common pairs, each sort, the first page and a keyset
page from the middle of the table, companies small and large) it measures the full server
time of the request (routing, filters, queries, template) through the Flask app, and the bare
SELECT of the same page: the very statement the request sent, run again on a raw connection,
in the same run. Prints p50/p95 of both and their ratio, plus the p95 of the capped count the
list loads in a second request after it is shown (first pages), and of the saved views' counts
(one request for all of them). Target: p95 under 50 ms at 1 000 000 tickets for every case.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, text  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench"
TENANT_KEY = "bench"
SEED_SHAPE = "Bench (forma 3)"  # the tenant's name: a database seeded in another shape is rebuilt
COMPANIES = 200
AGENTS = 20  # the first is the admin; the last left a year ago (only old tickets)
COLLABORATORS = 5000
QUEUES = ["Suporte", "Infraestrutura", "Sistemas", "Compras", "Segurança"]  # 60/20/10/7/3 %
SUBJECTS = [
    "Impressora não imprime",
    "Sem acesso ao e-mail",
    "Computador lento ao iniciar",
    "Wi-Fi caindo",
    "Instalar certificado digital",
    "Erro no sistema fiscal",
    "Trocar senha",
    "Backup não concluído",
    "Monitor sem imagem",
    "VPN não conecta",
    "Atualização do Windows travada",
    "Scanner não aparece",
]
WORDS = [
    "recepção",
    "financeiro",
    "diretoria",
    "estoque",
    "caixa",
    "notebook",
    "servidor",
    "planilha",
    "outlook",
    "teams",
    "certificado",
    "rede",
    "cabo",
    "toner",
    "licença",
    "antivírus",
]
# The three slowest cases at 1 000 000 tickets (last run), for `--cases worst` at 5 000 000, and
# the creation ranges sorted otherwise (read day by day: a month of 5 000 000 holds 5x the rows).
WORST = [
    "year, atualização",
    "deep: company large+status, atualização",
    "deep: company large+status, número",
    "date range, atualização",
    "date range, número",
    "date range, prioridade",
    "quarter, atualização",
    "deep: date range, atualização",
]


def ensure_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = create_engine(
        base.replace("postgresql://", "postgresql+psycopg://") + "/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


# A person's home company: log-uniform over COMPANIES (Zipf-like: the first ~13 %, the last ~0.1 %).
HOME_COMPANY_SQL = "floor(power(:c + 1, ((({person})::bigint * 40503 + 17) % 1000003) / 1000003.0))::int - 1"


def _drop_tenant(session, tenant_id: int) -> None:
    for table in (
        "ticket_events",
        "comments",
        "attachments",
        "tickets",
        "saved_views",
        "users",
        "queues",
        "companies",
        "machines",
    ):
        session.execute(
            text(
                f"DELETE FROM {table} WHERE "
                + (
                    "ticket_id IN (SELECT id FROM tickets WHERE tenant_id = :t)"
                    if table in ("ticket_events", "comments")
                    else "user_id IN (SELECT id FROM users WHERE tenant_id = :t)"
                    if table == "saved_views"
                    else "tenant_id = :t"
                )
            ),
            {"t": tenant_id},
        )
    session.execute(text("DELETE FROM tenants WHERE id = :t"), {"t": tenant_id})
    session.commit()


def seed(db, tickets: int) -> int:
    """Create the bench tenant and N tickets with one INSERT ... SELECT (fast, server-side)."""
    session = db.session
    row = session.execute(text("SELECT id, name FROM tenants WHERE key = :k"), {"k": TENANT_KEY}).first()
    if row is not None:
        tenant_id, shape = row
        existing = session.scalar(text("SELECT count(*) FROM tickets WHERE tenant_id = :t"), {"t": tenant_id})
        if existing == tickets and shape == SEED_SHAPE:
            print(f"seed: reusing {existing:,} tickets")
            return tenant_id
        print(f"seed: {existing:,} tickets of shape {shape!r} present, {tickets:,} wanted: rebuilding")
        _drop_tenant(session, tenant_id)

    started = time.perf_counter()
    from app.services.passwords import hash_password

    tenant_id = session.scalar(
        text(
            "INSERT INTO tenants (key, name, timezone, ticket_sequence, created_at) "
            "VALUES (:k, :name, 'America/Sao_Paulo', :n, now()) RETURNING id"
        ),
        {"k": TENANT_KEY, "name": SEED_SHAPE, "n": tickets},
    )
    for name in QUEUES:
        session.execute(
            text("INSERT INTO queues (tenant_id, name, created_at) VALUES (:t, :name, now())"),
            {"t": tenant_id, "name": name},
        )
    session.execute(
        text(
            "INSERT INTO companies (tenant_id, name, apelido, provisioning_code, is_active, created_at, updated_at) "
            "SELECT :t, 'Empresa ' || g, 'empresa-' || lpad(g::text, 3, '0'), 'BENCH' || :t || 'X' || g, true, "
            "now(), now() FROM generate_series(1, :c) g ORDER BY g"
        ),
        {"t": tenant_id, "c": COMPANIES},
    )
    password = hash_password("bench-password")
    session.execute(
        text(
            "INSERT INTO users (tenant_id, email, name, role, password_hash, is_active, preferences, created_at, updated_at) "
            "SELECT :t, 'agente' || g || '@bench.test', 'Agente ' || g, CASE WHEN g = 1 THEN 'admin' ELSE 'agent' END, "
            ":p, true, '{}', now(), now() FROM generate_series(1, :a) g ORDER BY g"
        ),
        {"t": tenant_id, "a": AGENTS, "p": password},
    )
    session.execute(
        text(
            "INSERT INTO users (tenant_id, email, name, role, company_id, is_active, preferences, created_at, updated_at) "
            "SELECT :t, 'pessoa' || g || '@cliente.test', 'Pessoa ' || g, 'collaborator', "
            f"(SELECT min(id) FROM companies WHERE tenant_id = :t) + {HOME_COMPANY_SQL.format(person='g - 1')}, "
            "true, '{}', now(), now() FROM generate_series(1, :n) g ORDER BY g"
        ),
        {"t": tenant_id, "n": COLLABORATORS, "c": COMPANIES},
    )
    session.commit()

    # Indexes are built once after the rows (much faster than row by row); the constraints'
    # own indexes stay.
    indexes = session.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tickets' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'tickets'::regclass)"
        )
    ).all()
    empty = not session.scalar(text("SELECT EXISTS (SELECT 1 FROM tickets)"))
    if empty:
        for name, _definition in indexes:
            session.execute(text(f'DROP INDEX "{name}"'))

    subjects = "ARRAY[" + ",".join(f"'{s}'" for s in SUBJECTS) + "]"
    words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    session.execute(
        text(f"""
        WITH base AS (
            SELECT (SELECT min(id) FROM users WHERE tenant_id = :t AND role = 'collaborator') AS first_person,
                   (SELECT min(id) FROM users WHERE tenant_id = :t AND role <> 'collaborator') AS first_agent,
                   (SELECT min(id) FROM companies WHERE tenant_id = :t) AS first_company,
                   (SELECT min(id) FROM queues WHERE tenant_id = :t) AS first_queue
        ), raw AS (
            SELECT g, (:n - g)::float8 / :n AS age,
                   now() - make_interval(secs => (:n - g) * 86400.0 * 730 / :n) AS created,
                   (g::bigint * 7919) % 1000 AS b1, (g::bigint * 104729) % 100 AS b2,
                   (g::bigint * 15485863) % 1000003 AS b3,
                   -- who asks: skewed, a few people file many tickets
                   floor(:people * power(((g::bigint * 2654435761) % 1000003) / 1000003.0, 2))::int AS person
            FROM generate_series(1, :n) g
        ), shaped AS (
            SELECT raw.*,
                   -- open: 60 % of the last 2 % of tickets, 20 % of the next 8 %, 2 % of the older ones
                   CASE WHEN b1 < (CASE WHEN age < 0.02 THEN 600 WHEN age < 0.10 THEN 200 ELSE 20 END)
                        THEN (CASE WHEN b2 < 45 THEN 'PENDING' WHEN b2 < 80 THEN 'IN_PROGRESS' ELSE 'PAUSED' END)
                        ELSE 'RESOLVED' END AS status,
                   {HOME_COMPANY_SQL.format(person="person")} AS home,
                   (g::bigint * 613) % 100 AS q, (g::bigint * 97 + 13) % 100 AS p
            FROM raw
        )
        INSERT INTO tickets (tenant_id, reference, subject, description_html, description_text, status,
            priority, priority_rank, queue_id, company_id, requester_id, assignee_id, created_at, updated_at,
            first_response_at, resolved_at, worked_seconds)
        SELECT :t, g, ({subjects})[1 + (g * 31) % 12],
               '<p>' || ({words})[1 + g % 16] || ' ' || ({words})[1 + (g / 16) % 16] || ' chamado ' || g || '</p>',
               ({words})[1 + g % 16] || ' ' || ({words})[1 + (g / 16) % 16] || ' chamado ' || g,
               status,
               CASE WHEN p < 30 THEN 'LOW' WHEN p < 80 THEN 'MEDIUM' WHEN p < 95 THEN 'HIGH' ELSE 'URGENT' END,
               CASE WHEN p < 30 THEN 1 WHEN p < 80 THEN 2 WHEN p < 95 THEN 3 ELSE 4 END,
               first_queue + CASE WHEN q < 60 THEN 0 WHEN q < 80 THEN 1 WHEN q < 90 THEN 2 WHEN q < 97 THEN 3
                                  ELSE 4 END,
               -- the second company is a former client: none of its tickets is newer than a year
               first_company + CASE WHEN home = 1 AND age < 0.5 THEN 0 ELSE home END,
               first_person + person,
               CASE WHEN status = 'PENDING' AND b3 % 3 = 0 THEN NULL
                    WHEN age > 0.5 AND b3 % 10 = 1 THEN first_agent + :a - 1
                    ELSE first_agent + floor((:a - 1) * power((b3 % 10007) / 10007.0, 2))::int END,
               created,
               LEAST(now(), created + make_interval(hours => (1 + b3 % 240)::int)),
               CASE WHEN status IN ('RESOLVED', 'IN_PROGRESS') THEN created + interval '30 minutes' END,
               CASE WHEN status = 'RESOLVED' THEN LEAST(now(), created + make_interval(hours => (1 + b3 % 240)::int)) END,
               CASE WHEN status = 'RESOLVED' THEN 2700 ELSE 0 END
        FROM shaped, base
    """),
        {
            "t": tenant_id,
            "n": tickets,
            "c": COMPANIES,
            "a": AGENTS,
            "people": COLLABORATORS,
        },
    )
    session.commit()
    if empty:
        session.execute(text("SET maintenance_work_mem = '512MB'"))
        for _name, definition in indexes:
            session.execute(text(definition))
        session.commit()
    # Statistics, hint bits and the visibility map, as a table that has lived would have them.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE tickets"))
        connection.execute(text("ANALYZE users"))
    print(f"seed: {tickets:,} tickets in {time.perf_counter() - started:.1f} s")
    return tenant_id


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def build_cases(db, tenant_id: int) -> dict[str, str | None]:
    """Every case's query string (None: the Painel's "Últimos chamados"), with ids of this seed."""
    from app.models import Ticket
    from app.services.ticket_pages import encode_cursor

    def one(sql: str, **params):
        return db.session.scalar(text(sql), {"t": tenant_id, **params})

    first_agent = one("SELECT min(id) FROM users WHERE tenant_id = :t AND role <> 'collaborator'")
    first_company = one("SELECT min(id) FROM companies WHERE tenant_id = :t")
    by_company = db.session.execute(
        text("SELECT company_id, count(*) FROM tickets WHERE tenant_id = :t GROUP BY company_id ORDER BY 2"),
        {"t": tenant_id},
    ).all()
    large, small = by_company[-1][0], by_company[0][0]
    former = first_company + 1
    small_queue = one("SELECT max(id) FROM queues WHERE tenant_id = :t")
    busy, gone = first_agent + 1, first_agent + AGENTS - 1
    total = one("SELECT count(*) FROM tickets WHERE tenant_id = :t")
    middle = db.session.scalar(
        db.select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.reference == total // 2)
    )
    year_ago = middle.created_at.date()
    sizes = dict(by_company)
    print(
        f"companies: large #{large} ({sizes[large]:,} tickets), small #{small} ({sizes[small]:,}), "
        f"former #{former} ({sizes.get(former, 0):,}, all older than a year)"
    )

    def deep(sort: str) -> str:
        return "cursor=" + encode_cursor(middle, sort)

    sorts = {
        "número": "ordem=referencia",
        "atualização": "ordem=atualizado",
        "prioridade": "ordem=prioridade",
    }
    company_status = f"empresa={large}&status=PENDING"
    assignee_status = f"responsavel={busy}&status=IN_PROGRESS"
    date_range = f"de={year_ago}&ate={year_ago + timedelta(days=30)}"
    cases: dict[str, str | None] = {
        # each filter alone
        "none": "",
        "status": "status=PENDING",
        "status×2": "status=PENDING&status=IN_PROGRESS",
        "priority": "prioridade=URGENT",
        "queue (small)": f"fila={small_queue}",
        "company large": f"empresa={large}",
        "company small": f"empresa={small}",
        "company former": f"empresa={former}",
        "assignee": f"responsavel={busy}",
        "assignee former": f"responsavel={gone}",
        "unassigned": "responsavel=nenhum",
        "requester": "solicitante=Pessoa+12",
        "date range": date_range,
        "free text": "q=impressora",
        # the common pairs
        "company large+status": company_status,
        "company small+status": f"empresa={small}&status=PENDING",
        "company former+status": f"empresa={former}&status=PENDING",
        "company large+status×2": f"empresa={large}&status=PENDING&status=IN_PROGRESS",
        "assignee+status": assignee_status,
        "queue+status": f"fila={small_queue}&status=PENDING",
        "free text+status": "q=impressora&status=PENDING",
        "requester+status": "solicitante=Pessoa+12&status=RESOLVED",
    }
    # each sort (criação is the default above), unfiltered and with the pairs
    for label, sort in sorts.items():
        cases[f"none, {label}"] = sort
        cases[f"company large+status, {label}"] = f"{company_status}&{sort}"
        cases[f"assignee+status, {label}"] = f"{assignee_status}&{sort}"
    cases["company large+status, criação asc"] = f"{company_status}&direcao=asc"
    # a creation range sorted otherwise: a month, a quarter, and a keyset page within the month
    for label, sort in sorts.items():
        cases[f"date range, {label}"] = f"{date_range}&{sort}"
    quarter = f"de={year_ago}&ate={year_ago + timedelta(days=91)}"
    cases["quarter, atualização"] = f"{quarter}&ordem=atualizado"
    year = f"de={year_ago - timedelta(days=182)}&ate={year_ago + timedelta(days=182)}"
    cases["year, atualização"] = f"{year}&ordem=atualizado"
    cases["deep: date range, atualização"] = f"{date_range}&ordem=atualizado&" + deep("atualizado")
    # a keyset page from the middle of the table (a year back)
    cases["deep: none"] = deep("criado")
    cases["deep: status×2"] = "status=PENDING&status=IN_PROGRESS&" + deep("criado")
    cases["deep: company large"] = f"empresa={large}&" + deep("criado")
    cases["deep: company large+status"] = f"{company_status}&" + deep("criado")
    cases["deep: assignee+status"] = f"{assignee_status}&" + deep("criado")
    for label, sort in sorts.items():
        key = sort.split("=")[1]
        cases[f"deep: none, {label}"] = f"{sort}&" + deep(key)
        cases[f"deep: company large+status, {label}"] = f"{company_status}&{sort}&" + deep(key)
    cases["dashboard unassigned"] = None  # the Painel's "Últimos chamados" list
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=60, help="measured requests per case")
    parser.add_argument(
        "--cases",
        default="all",
        help="'all', 'worst' (the three slowest at 1 000 000, and the creation ranges) or names, comma-separated",
    )
    parser.add_argument("--list", action="store_true", help="print the cases' names and query strings")
    parser.add_argument(
        "--explain", metavar="CASE", help="print EXPLAIN (ANALYZE, BUFFERS) of a case's SELECT"
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    os.environ.update(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-" + "x" * 32,
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_ENABLED": "false",
        }
    )
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import User

    app = create_app({"INSTANCE_PATH": ROOT / "instance" / "bench", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
        tenant_id = seed(db, args.tickets)
        admin = db.session.scalar(db.select(User).where(User.tenant_id == tenant_id, User.role == "admin"))
        cases = build_cases(db, tenant_id)
        db.session.rollback()
        if args.list:
            for name, query in cases.items():
                print(f"{name:<40} {'/painel/ultimos' if query is None else query}")
            return
        chosen = (
            list(cases)
            if args.cases == "all"
            else WORST
            if args.cases == "worst"
            else [name.strip() for name in re.split(r",(?! )", args.cases)]  # names hold ", "
        )
        if args.explain:
            chosen = [args.explain]
        unknown = [name for name in chosen if name not in cases]
        if unknown:
            parser.error(f"unknown case(s): {', '.join(unknown)} (see --list)")

        # The bare SELECT is the statement the request itself sent to PostgreSQL for the page.
        sent: list[tuple[str, object]] = []
        event.listen(db.engine, "before_cursor_execute", lambda c, cur, s, p, ctx, many: sent.append((s, p)))

        def page_statement() -> tuple[str, object]:
            pages = [
                (s, p)
                for s, p in sent
                if "FROM tickets" in s and "LIMIT" in s and "count(" not in s and "JOIN queues" in s
            ]
            assert pages, "no page query seen"
            return pages[0]

        client = app.test_client()
        client.post("/login", data={"email": admin.email, "password": "bench-password"})
        raw = db.engine.raw_connection()
        cursor = raw.cursor()

        if args.explain:
            query = cases[args.explain]
            sent.clear()
            assert client.get(f"/chamados?f=1&{query}").status_code == 200
            statement, parameters = page_statement()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            print(f"\n{args.explain}: /chamados?f=1&{query}\n")
            print("\n".join(line for (line,) in cursor.fetchall()))
            raw.rollback()
            return

        print(f"\n{args.tickets:,} tickets, {args.requests} requests per case (after 5 warm-up)")
        print(
            f"{'case':<40}{'server p50':>12}{'server p95':>12}{'SELECT p50':>12}{'SELECT p95':>12}"
            f"{'ratio p95':>11}{'count p95':>12}"
        )
        worst: list[tuple[float, str]] = []
        for name in chosen:
            query = cases[name]
            path = "/painel/ultimos" if query is None else f"/chamados?f=1&{query}"
            server = []
            for i in range(args.requests + 5):
                sent.clear()
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (path, response.status_code)
                if i >= 5:
                    server.append(elapsed)
            if query is None:
                statements = [(s, p) for s, p in sent if "FROM tickets" in s and "LIMIT" in s]
            else:
                statements = [page_statement()]
            selects = []
            for i in range(args.requests + 5):
                started = time.perf_counter()
                for statement, parameters in statements:
                    cursor.execute(statement, parameters)
                    cursor.fetchall()
                elapsed = (time.perf_counter() - started) * 1000
                if i >= 5:
                    selects.append(elapsed)
            raw.rollback()
            counts = []  # the capped count the list loads right after it is shown (a first page's)
            if (
                query is not None
                and "cursor=" not in query
                and "ordem=" not in query
                and "direcao" not in query
            ):
                for i in range(args.requests // 2 + 3):
                    started = time.perf_counter()
                    assert client.get(f"/chamados/contagem?{query}").status_code == 200
                    if i >= 3:
                        counts.append((time.perf_counter() - started) * 1000)
            p95 = percentile(server, 0.95)
            worst.append((p95, name))
            print(
                f"{name:<40}{statistics.median(server):>10.1f}ms{p95:>10.1f}ms"
                f"{statistics.median(selects):>10.1f}ms{percentile(selects, 0.95):>10.1f}ms"
                f"{p95 / max(percentile(selects, 0.95), 0.001):>10.1f}x"
                + (f"{percentile(counts, 0.95):>10.1f}ms" if counts else f"{'—':>12}"),
                flush=True,
            )
        raw.close()
        if args.cases == "all":
            # "Minhas visões": the first pages' filters as saved views; their counts come in one request.
            from app.services import saved_views

            db.session.execute(text("DELETE FROM saved_views WHERE user_id = :u"), {"u": admin.id})
            db.session.commit()
            viewed = [
                (name, query)
                for name, query in cases.items()
                if query and "cursor=" not in query and "ordem=" not in query and "direcao" not in query
            ]
            for name, query in viewed:
                saved_views.create_view(admin, name, query)
            db.session.commit()
            views_ms = []
            for i in range(args.requests // 2 + 3):
                started = time.perf_counter()
                assert client.get("/chamados/visoes/contagens").status_code == 200
                if i >= 3:
                    views_ms.append((time.perf_counter() - started) * 1000)
            print(
                f"\nsaved views' counts ({len(viewed)} views, one request): "
                f"p50 {statistics.median(views_ms):.1f} ms, p95 {percentile(views_ms, 0.95):.1f} ms"
            )
        slowest = ", ".join(f"{name} {p95:.1f} ms" for p95, name in sorted(worst, reverse=True)[:3])
        print(f"slowest server p95: {slowest} (target < 50 ms at 1 000 000 tickets)")


if __name__ == "__main__":
    main()
