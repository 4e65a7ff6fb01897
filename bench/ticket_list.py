"""Benchmark: server time of the ticket list on a large PostgreSQL table.

    .venv/bin/python bench/ticket_list.py                    # 200 000 tickets
    .venv/bin/python bench/ticket_list.py --tickets 1000000  # the target size

Seeds its own database (BENCH_DATABASE_URL, default the local `chamados_bench`,
created if missing) with N tickets across 50 companies and 20 agents, then, for
six typical views, measures the full server time of the request (routing,
filters, queries, template) through the Flask app, and the bare SELECT of the
same page rows in the same run. Prints p50/p95 per case and the ratio, plus the
p95 of the capped count the list loads in a second request after it is shown,
and of the saved views' counts (one request for all of them, the five filtered
cases saved as views). Target: p95 under 50 ms at 1 000 000 tickets for every case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench"
TENANT_KEY = "bench"
COMPANIES = 50
AGENTS = 20
COLLABORATORS = 500
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


def seed(db, tickets: int) -> int:
    """Create the bench tenant and N tickets with one INSERT ... SELECT (fast, server-side)."""
    session = db.session
    tenant_id = session.scalar(text("SELECT id FROM tenants WHERE key = :k"), {"k": TENANT_KEY})
    if tenant_id is not None:
        existing = session.scalar(text("SELECT count(*) FROM tickets WHERE tenant_id = :t"), {"t": tenant_id})
        if existing == tickets:
            print(f"seed: reusing {existing} tickets")
            return tenant_id
        print(f"seed: {existing} tickets present, {tickets} wanted: rebuilding")
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

    started = time.perf_counter()
    from app.services.passwords import hash_password

    tenant_id = session.scalar(
        text(
            "INSERT INTO tenants (key, name, timezone, ticket_sequence, created_at) "
            "VALUES (:k, 'Bench', 'America/Sao_Paulo', :n, now()) RETURNING id"
        ),
        {"k": TENANT_KEY, "n": tickets},
    )
    queue_id = session.scalar(
        text("INSERT INTO queues (tenant_id, name, created_at) VALUES (:t, 'Chamados', now()) RETURNING id"),
        {"t": tenant_id},
    )
    session.execute(
        text(
            "INSERT INTO companies (tenant_id, name, apelido, provisioning_code, is_active, created_at, updated_at) "
            "SELECT :t, 'Empresa ' || g, 'empresa-' || g, 'BENCH' || :t || 'X' || g, true, now(), now() "
            "FROM generate_series(1, :c) g"
        ),
        {"t": tenant_id, "c": COMPANIES},
    )
    password = hash_password("bench-password")
    session.execute(
        text(
            "INSERT INTO users (tenant_id, email, name, role, password_hash, is_active, preferences, created_at, updated_at) "
            "SELECT :t, 'agente' || g || '@bench.test', 'Agente ' || g, CASE WHEN g = 1 THEN 'admin' ELSE 'agent' END, "
            ":p, true, '{}', now(), now() FROM generate_series(1, :a) g"
        ),
        {"t": tenant_id, "a": AGENTS, "p": password},
    )
    session.execute(
        text(
            "INSERT INTO users (tenant_id, email, name, role, company_id, is_active, preferences, created_at, updated_at) "
            "SELECT :t, 'pessoa' || g || '@cliente.test', 'Pessoa ' || g, 'collaborator', "
            "(SELECT min(id) FROM companies WHERE tenant_id = :t) + (g % :c), true, '{}', now(), now() "
            "FROM generate_series(1, :n) g"
        ),
        {"t": tenant_id, "n": COLLABORATORS, "c": COMPANIES},
    )
    session.commit()

    subjects = "ARRAY[" + ",".join(f"'{s}'" for s in SUBJECTS) + "]"
    words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    # A realistic mix: ~90 % resolved, the rest open; one in five open tickets unassigned.
    session.execute(
        text(f"""
        WITH people AS (
            SELECT (SELECT min(id) FROM users WHERE tenant_id = :t AND role = 'collaborator') AS first_person,
                   (SELECT min(id) FROM users WHERE tenant_id = :t AND role <> 'collaborator') AS first_agent,
                   (SELECT min(id) FROM companies WHERE tenant_id = :t) AS first_company
        ), raw AS (
            SELECT g, now() - make_interval(secs => (:n - g) * 60.0 * 24 * 730 / :n) AS created,
                   (g::bigint * 7919) % 100 AS bucket, (g::bigint * 104729) % :people AS person
            FROM generate_series(1, :n) g
        )
        INSERT INTO tickets (tenant_id, reference, subject, description_html, description_text, status,
            priority, priority_rank, queue_id, company_id, requester_id, assignee_id, created_at, updated_at,
            first_response_at, resolved_at, worked_seconds)
        SELECT :t, g, ({subjects})[1 + g % 12],
               '<p>' || ({words})[1 + g % 16] || ' ' || ({words})[1 + (g / 16) % 16] || ' chamado ' || g || '</p>',
               ({words})[1 + g % 16] || ' ' || ({words})[1 + (g / 16) % 16] || ' chamado ' || g,
               CASE WHEN bucket < 90 THEN 'RESOLVED' WHEN bucket < 94 THEN 'PENDING'
                    WHEN bucket < 97 THEN 'IN_PROGRESS' ELSE 'PAUSED' END,
               (ARRAY['LOW','MEDIUM','HIGH','URGENT'])[1 + g % 4], 1 + g % 4,
               :q, people.first_company + (person % :c), people.first_person + person,
               CASE WHEN bucket BETWEEN 90 AND 91 THEN NULL ELSE people.first_agent + g % :a END,
               created, created + interval '2 hours',
               CASE WHEN bucket < 92 THEN created + interval '30 minutes' END,
               CASE WHEN bucket < 90 THEN created + interval '2 hours' END,
               CASE WHEN bucket < 90 THEN 2700 ELSE 0 END
        FROM raw, people
    """),
        {"t": tenant_id, "n": tickets, "q": queue_id, "c": COMPANIES, "a": AGENTS, "people": COLLABORATORS},
    )
    session.commit()
    session.execute(text("ANALYZE tickets"))
    session.execute(text("ANALYZE users"))
    session.commit()
    print(f"seed: {tickets} tickets in {time.perf_counter() - started:.1f} s")
    return tenant_id


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=60, help="measured requests per case")
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
    from app.models import Ticket, User
    from app.services.dashboard import latest_tickets
    from app.services.ticket_filters import SORT_COLUMNS, filtered_query, parse_filters

    app = create_app({"INSTANCE_PATH": ROOT / "instance" / "bench", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
        tenant_id = seed(db, args.tickets)
        admin = db.session.scalar(db.select(User).where(User.tenant_id == tenant_id, User.role == "admin"))
        agent_id = admin.id + 5
        company_id = db.session.scalar(
            text("SELECT min(id) + 7 FROM companies WHERE tenant_id = :t"), {"t": tenant_id}
        )
        cases = {
            "none": "",
            "status": "status=PENDING&status=IN_PROGRESS",
            "assignee": f"responsavel={agent_id}",
            "company+status": f"empresa={company_id}&status=PENDING",
            "free text": "q=impressora",
            "dashboard unassigned": None,  # the Painel's "Últimos chamados" list
        }
        client = app.test_client()
        client.post("/login", data={"email": admin.email, "password": "bench-password"})
        timezone = app.config["DEFAULT_TIMEZONE"]

        print(f"\n{args.tickets:,} tickets, {args.requests} requests per case (after 5 warm-up)")
        print(
            f"{'case':<22}{'server p50':>12}{'server p95':>12}{'SELECT p50':>12}{'SELECT p95':>12}"
            f"{'ratio p95':>11}{'count p95':>12}"
        )
        worst = 0.0
        for name, query in cases.items():
            path = "/painel/ultimos" if query is None else f"/chamados?f=1&{query}"
            server = []
            for i in range(args.requests + 5):
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (path, response.status_code)
                if i >= 5:
                    server.append(elapsed)

            if query is None:

                def bare(admin=admin):
                    latest_tickets(admin.tenant_id)
            else:
                filters = parse_filters(MultiDict([p.split("=") for p in query.split("&") if p]), tenant_id)
                column = SORT_COLUMNS[filters.sort]
                statement = (
                    filtered_query(admin, filters, timezone)
                    .order_by(column.desc(), Ticket.id.desc())
                    .limit(filters.per_page + 1)
                )

                def bare(statement=statement):
                    db.session.connection().execute(statement).all()

            selects = []
            for i in range(args.requests + 5):
                started = time.perf_counter()
                bare()
                elapsed = (time.perf_counter() - started) * 1000
                if i >= 5:
                    selects.append(elapsed)
            db.session.rollback()
            counts = []  # the capped count the list loads right after it is shown
            if query is not None:
                for i in range(args.requests // 2 + 3):
                    started = time.perf_counter()
                    assert client.get(f"/chamados/contagem?{query}").status_code == 200
                    if i >= 3:
                        counts.append((time.perf_counter() - started) * 1000)
            p95 = percentile(server, 0.95)
            worst = max(worst, p95)
            print(
                f"{name:<22}{statistics.median(server):>10.1f}ms{p95:>10.1f}ms"
                f"{statistics.median(selects):>10.1f}ms{percentile(selects, 0.95):>10.1f}ms"
                f"{p95 / max(percentile(selects, 0.95), 0.001):>10.1f}x"
                + (f"{percentile(counts, 0.95):>10.1f}ms" if counts else f"{'—':>12}")
            )
        # "Minhas visões": the filtered cases as saved views; their counts come in one request.
        from app.services import saved_views

        db.session.execute(text("DELETE FROM saved_views WHERE user_id = :u"), {"u": admin.id})
        db.session.commit()
        for name, query in cases.items():
            if query:
                saved_views.create_view(admin, name, query)
        db.session.commit()  # services flush; the unit of work is the caller's (services/transaction.py)
        views_ms = []
        for i in range(args.requests // 2 + 3):
            started = time.perf_counter()
            assert client.get("/chamados/visoes/contagens").status_code == 200
            if i >= 3:
                views_ms.append((time.perf_counter() - started) * 1000)
        print(
            f"\nsaved views' counts ({len(cases) - 1} views, one request): "
            f"p50 {statistics.median(views_ms):.1f} ms, p95 {percentile(views_ms, 0.95):.1f} ms"
        )
        print(f"worst server p95: {worst:.1f} ms (target < 50 ms at 1 000 000 tickets)")


if __name__ == "__main__":
    main()
