from datetime import UTC, date, datetime
from urllib.parse import parse_qsl

import pytest
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Company, Queue, Role, Ticket, TicketStatus
from app.services.ticket_filters import MAX_PAGE_SIZE, FilterError, filter_chips, parse_filters
from app.services.ticket_pages import list_tickets
from tests.conftest import TEST_DATABASE_URL, make_user

TZ = "America/Sao_Paulo"


def _refs(user, args, cursor=None):
    filters = parse_filters(MultiDict(args), user.tenant_id)
    return [t.reference for t in list_tickets(user, filters, cursor, TZ).tickets]


def test_every_filter_narrows_the_list(tenant, company, agent_user, admin_user, collaborator, make_ticket):
    other_company = Company(tenant_id=tenant.id, name="Outra", apelido="outra")
    infra = Queue(tenant_id=tenant.id, name="Infraestrutura")
    db.session.add_all([other_company, infra])
    db.session.commit()
    other_person = make_user(
        tenant, Role.COLLABORATOR, email="zeca@outra.test", name="Zeca Souza", company=other_company
    )
    a = make_ticket("Impressora não imprime", status=TicketStatus.IN_PROGRESS, assignee_id=agent_user.id)
    b = make_ticket("Sem internet", priority="URGENT", queue_id=infra.id)
    c = make_ticket(
        "Tela azul", requester=other_person, assignee_id=admin_user.id, status=TicketStatus.RESOLVED
    )
    c.created_at = datetime(2026, 1, 10, 12, tzinfo=UTC)
    db.session.commit()

    assert _refs(agent_user, {}) == [b.reference, a.reference, c.reference]
    assert _refs(agent_user, [("status", "PENDING"), ("status", "IN_PROGRESS")]) == [b.reference, a.reference]
    assert _refs(agent_user, {"prioridade": "URGENT"}) == [b.reference]
    assert _refs(agent_user, {"fila": str(infra.id)}) == [b.reference]
    assert _refs(agent_user, {"empresa": str(other_company.id)}) == [c.reference]
    assert _refs(agent_user, {"responsavel": str(agent_user.id)}) == [a.reference]
    assert _refs(agent_user, {"responsavel": "nenhum"}) == [b.reference]
    assert _refs(agent_user, {"solicitante": "zeca"}) == [c.reference]
    assert _refs(agent_user, {"solicitante": collaborator.email}) == [b.reference, a.reference]
    assert _refs(agent_user, {"q": "impressora"}) == [a.reference]
    assert _refs(agent_user, {"q": f"#{b.reference}"}) == [b.reference]
    assert _refs(agent_user, {"de": "2026-01-10", "ate": "2026-01-10"}) == [c.reference]
    assert _refs(agent_user, {"ate": "2026-01-09"}) == []


def test_free_text_searches_the_description_too(agent_user, make_ticket):
    ticket = make_ticket("Problema", description_html="<p>O <b>scanner</b> da recepção parou</p>")
    assert _refs(agent_user, {"q": "scanner"}) == [ticket.reference]


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="accent-insensitive full-text search is PostgreSQL's")
def test_postgres_search_is_accent_insensitive_and_stemmed(agent_user, make_ticket):
    ticket = make_ticket("Atualização do Windows travada", description_html="<p>Não inicia</p>")
    make_ticket("Outro assunto")
    assert _refs(agent_user, {"q": "atualizacao"}) == [ticket.reference]
    assert _refs(agent_user, {"q": "windows travado"}) == [ticket.reference]
    assert _refs(agent_user, {"q": "nao inicia"}) == [ticket.reference]


def test_search_fold_removes_accents_and_case():
    from app.db_sqlite import search_fold

    assert search_fold("Atualização") == "atualizacao"
    assert search_fold("NÃO INICIA, JOSÉ") == "nao inicia, jose"
    assert search_fold("Straße") == "strasse"
    assert search_fold(None) is None


def test_search_ignores_accents_and_case_on_every_database(agent_user, make_ticket):
    """SQLite (search_fold) finds what PostgreSQL (unaccent in chamados_pt) finds."""
    update = make_ticket(
        "Atualização do Windows travada", description_html="<p>Não inicia após o reinício</p>"
    )
    plain = make_ticket("Atualizacao de antivirus", description_html="<p>sem acento</p>")
    make_ticket("Outro assunto", description_html="<p>Nada a ver</p>")
    both = sorted([update.reference, plain.reference])
    assert sorted(_refs(agent_user, {"q": "atualizacao"})) == both
    assert sorted(_refs(agent_user, {"q": "Atualização"})) == both
    assert sorted(_refs(agent_user, {"q": "ATUALIZAÇÃO"})) == both
    assert _refs(agent_user, {"q": "nao inicia"}) == [update.reference]
    assert _refs(agent_user, {"q": "NÃO INICIA"}) == [update.reference]
    assert _refs(agent_user, {"q": "antivírus"}) == [plain.reference]


def test_search_through_the_list_page_ignores_accents(agent_client, make_ticket):
    ticket = make_ticket("Atualização do sistema de caixa")
    make_ticket("Impressora sem tinta")
    page = agent_client.get("/chamados?f=1&q=atualizacao").get_data(as_text=True)
    assert "Atualização do sistema de caixa" in page
    assert "Impressora sem tinta" not in page
    assert f"#{ticket.reference}" in page


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="LIKE's wildcards are SQLite's side of the search")
def test_sqlite_search_takes_percent_and_underscore_as_typed(agent_user, make_ticket):
    discount = make_ticket("Desconto de 50% no sistema")
    make_ticket("Desconto de 5000 no sistema")
    underscore = make_ticket("Pasta rede_financeiro sumiu")
    make_ticket("Pasta redeXfinanceiro sumiu")
    assert _refs(agent_user, {"q": "50%"}) == [discount.reference]
    assert _refs(agent_user, {"q": "rede_financeiro"}) == [underscore.reference]


def test_the_requester_filter_takes_percent_and_underscore_as_typed(tenant, company, agent_user, make_ticket):
    def person(name, email):
        return make_user(tenant, Role.COLLABORATOR, email=email, name=name, company=company)

    joana = make_ticket("Impressora", requester=person("Joana", "joana_lima@pao.test"))
    make_ticket("Monitor", requester=person("Joao", "joanaxlima@pao.test"))
    assert _refs(agent_user, {"solicitante": "joana_lima"}) == [joana.reference]
    assert _refs(agent_user, {"solicitante": "%"}) == []


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="the GIN index is PostgreSQL's")
def test_postgres_search_still_uses_its_gin_index(agent_user, make_ticket):
    from sqlalchemy import text

    from app.services.ticket_filters import filtered_query

    make_ticket("Atualização do Windows travada")
    filters = parse_filters(MultiDict({"q": "atualizacao"}), agent_user.tenant_id)
    statement = filtered_query(agent_user, filters, TZ).with_only_columns(Ticket.id)
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.scalars(text(f"EXPLAIN {compiled}")))
    db.session.rollback()
    assert "ix_tickets_search" in plan, plan


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"responsavel": "999999"}, "Responsável não encontrado"),
        ({"responsavel": "abc"}, "Responsável inválido"),
        ({"status": "ABERTO"}, "Status desconhecido"),
        ({"prioridade": "MAXIMA"}, "Prioridade desconhecido"),
        ({"empresa": "999999"}, "Empresa não encontrada"),
        ({"fila": "0"}, "Fila inválido"),
        ({"de": "21/11/2026"}, "Data inicial inválida"),
    ],
)
def test_bad_parameters_are_a_clear_400(agent_user, args, message):
    with pytest.raises(FilterError, match=message) as error:
        parse_filters(MultiDict(args), agent_user.tenant_id)
    assert error.value.status == 400


def test_assignee_of_another_tenant_or_a_collaborator_is_refused(agent_user, collaborator, other_tenant):
    outsider = make_user(other_tenant, Role.AGENT)
    for user in (outsider, collaborator):
        with pytest.raises(FilterError, match="Responsável não encontrado"):
            parse_filters(MultiDict({"responsavel": str(user.id)}), agent_user.tenant_id)


def test_out_of_range_values_are_clamped(agent_user):
    assert parse_filters(MultiDict({"por_pagina": "5000"}), agent_user.tenant_id).per_page == MAX_PAGE_SIZE
    assert parse_filters(MultiDict({"por_pagina": "-3"}), agent_user.tenant_id).per_page == 1
    assert parse_filters(MultiDict({"por_pagina": "x"}), agent_user.tenant_id).per_page == 25
    assert parse_filters(MultiDict({"ordem": "hack"}), agent_user.tenant_id).sort == "criado"


def test_query_string_round_trips_and_drops_defaults(agent_user):
    args = MultiDict(
        [
            ("status", "PAUSED"),
            ("status", "PENDING"),
            ("q", " impressora  hp "),
            ("responsavel", "nenhum"),
            ("ordem", "prioridade"),
            ("por_pagina", "25"),
            ("fila", ""),
        ]
    )
    filters = parse_filters(args, agent_user.tenant_id)
    assert (
        filters.query_string()
        == "status=PAUSED&status=PENDING&responsavel=nenhum&q=impressora+hp&ordem=prioridade"
    )
    again = parse_filters(MultiDict(parse_qsl(filters.query_string())), agent_user.tenant_id)
    assert again == filters


def test_filter_chips_name_each_filter_and_drop_only_it(tenant, company, agent_user, queue):
    args = MultiDict(
        [
            ("status", "PENDING"),
            ("status", "PAUSED"),
            ("prioridade", "URGENT"),
            ("fila", str(queue.id)),
            ("empresa", str(company.id)),
            ("responsavel", "nenhum"),
            ("q", "impressora"),
            ("de", "2026-05-01"),
            ("ordem", "atualizado"),
        ]
    )
    filters = parse_filters(args, tenant.id)
    chips = filter_chips(filters, [queue], [company], [])
    assert [chip.label for chip in chips] == [
        "Status: Pendente",
        "Status: Pausado",
        "Prioridade: Urgente",
        f"Fila: {queue.name}",
        "Empresa: paoquente",
        "Responsável: Sem responsável",
        "Busca: “impressora”",
        "Criado de: 01/05/2026",
    ]
    without_pending = parse_qsl(chips[0].query)
    assert ("status", "PENDING") not in without_pending and ("status", "PAUSED") in without_pending
    assert ("ordem", "atualizado") in without_pending  # the sort is not a filter: it stays
    assert len(without_pending) == len(filters.to_params()) - 1
    assert filter_chips(parse_filters(MultiDict({"ordem": "atualizado"}), tenant.id)) == []


def test_dates_are_whole_days_in_the_tenant_time_zone(agent_user, make_ticket):
    late_evening = make_ticket("Noite")
    # 23:30 in São Paulo on 2 March is already 3 March in UTC.
    late_evening.created_at = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    db.session.commit()
    assert _refs(agent_user, {"de": "2026-03-02", "ate": "2026-03-02"}) == [late_evening.reference]
    assert parse_filters(MultiDict({"de": "2026-03-02"}), agent_user.tenant_id).created_from == date(
        2026, 3, 2
    )
