import re

from sqlalchemy import select

from app.extensions import db
from app.models import Comment, Role, Ticket, TicketStatus
from app.services import saved_views, tenancy
from app.services.tickets import create_ticket
from tests.conftest import logged_in_client, make_user

HTMX = {"HX-Request": "true"}
TABLE = {**HTMX, "HX-Target": "ticket-results"}


def _rows(html):
    return re.findall(r'<tr data-reference="(\d+)"', html)


# --- list ------------------------------------------------------------------------


def test_full_page_and_table_fragment(agent_client, make_ticket):
    make_ticket("Impressora não imprime")
    full = agent_client.get("/chamados?f=1").get_data(as_text=True)
    assert "<html" in full and 'id="ticket-filters"' in full and "Impressora não imprime" in full
    response = agent_client.get("/chamados?f=1&status=PENDING&fila=&q=", headers=TABLE)
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and 'id="ticket-filters"' not in fragment
    assert "Impressora não imprime" in fragment
    assert response.headers["HX-Push-Url"] == "/chamados?f=1&status=PENDING"
    # The same URL answers both: a browser cache must not hand the fragment back as the page.
    assert "HX-Request" in response.headers["Vary"]
    assert "HX-Request" in agent_client.get("/chamados?f=1").headers["Vary"]


def test_filters_apply_in_the_view(agent_client, make_ticket, agent_user):
    mine = make_ticket("Meu", assignee_id=agent_user.id)
    nobody = make_ticket("De ninguém")
    assert _rows(agent_client.get(f"/chamados?f=1&responsavel={agent_user.id}").get_data(as_text=True)) == [
        str(mine.reference)
    ]
    assert _rows(agent_client.get("/chamados?f=1&responsavel=nenhum").get_data(as_text=True)) == [
        str(nobody.reference)
    ]


def test_company_filter_lists_every_active_company(agent_client, tenant, company):
    from app.models import Company

    db.session.add(Company(tenant_id=tenant.id, name="Sem chamados Ltda", apelido="sem-chamados"))
    db.session.add(Company(tenant_id=tenant.id, name="Inativa", apelido="inativa", is_active=False))
    db.session.commit()
    html = agent_client.get("/chamados?f=1").get_data(as_text=True)
    assert "sem-chamados — Sem chamados Ltda" in html and "paoquente" in html
    assert "Inativa" not in html


def test_filter_form_marks_the_chosen_options_and_escapes_their_names(agent_client, tenant, agent_user):
    from app.models import Company

    odd = Company(tenant_id=tenant.id, name="<b>Negrito</b> & Cia", apelido="a<i>")
    db.session.add(odd)
    db.session.commit()
    query = f"/chamados?f=1&empresa={odd.id}&responsavel={agent_user.id}"
    form = agent_client.get(query).get_data(as_text=True)
    label = "a&lt;i&gt; — &lt;b&gt;Negrito&lt;/b&gt; &amp; Cia"
    assert f'<option value="{odd.id}" selected>{label}</option>' in form
    assert f'<option value="{agent_user.id}" selected>{agent_user.name}</option>' in form
    assert "<b>Negrito</b>" not in form
    # Nothing chosen: none of them is marked, and the select's "Todas" comes first.
    plain = agent_client.get("/chamados?f=1").get_data(as_text=True)
    company_select = plain.split('id="filter-company">', 1)[1].split("</select>", 1)[0]
    assert "selected" not in company_select and company_select.lstrip().startswith('<option value="">Todas')


def test_bad_parameters_answer_400_in_portuguese(agent_client, other_tenant):
    outsider = make_user(other_tenant, Role.AGENT)
    response = agent_client.get(f"/chamados?f=1&responsavel={outsider.id}")
    assert response.status_code == 400
    assert "Responsável não encontrado" in response.get_data(as_text=True)
    fragment = agent_client.get("/chamados?f=1&status=ABERTO", headers=TABLE)
    assert fragment.status_code == 400 and "Status desconhecido" in fragment.get_data(as_text=True)


def test_page_size_is_clamped_and_next_page_link_works(agent_client, tenant, collaborator):
    for i in range(105):
        create_ticket(tenant_id=tenant.id, requester=collaborator, subject=f"T{i}")
    db.session.commit()
    first = agent_client.get("/chamados?f=1&por_pagina=1000").get_data(as_text=True)
    assert len(_rows(first)) == 100 and 'hx-get="/chamados/contagem?por_pagina=100"' in first
    assert (
        agent_client.get("/chamados/contagem?por_pagina=100").get_data(as_text=True).strip()
        == "105 chamado(s)"
    )
    next_url = re.search(r'href="(/chamados\?f=1&amp;por_pagina=100&amp;cursor=[^"]+)"', first).group(1)
    second = agent_client.get(next_url.replace("&amp;", "&")).get_data(as_text=True)
    assert len(_rows(second)) == 5 and "Primeira página" in second
    assert not set(_rows(first)) & set(_rows(second))


def test_pages_go_forwards_and_back_with_their_number(agent_client, tenant, collaborator):
    for i in range(12):
        create_ticket(tenant_id=tenant.id, requester=collaborator, subject=f"T{i}")
    db.session.commit()
    first = agent_client.get("/chamados?f=1&por_pagina=5").get_data(as_text=True)
    assert "Página 1" in first and 'rel="prev"' not in first and "Primeira página" not in first

    def follow(html, rel):
        url = re.search(rf'href="([^"]+)"[^>]* rel="{rel}"', html).group(1).replace("&amp;", "&")
        return url, agent_client.get(url).get_data(as_text=True)

    second_url, second = follow(first, "next")
    assert "pagina=2" in second_url and "Página 2" in second
    _, third = follow(second, "next")
    assert "Página 3" in third and len(_rows(third)) == 2 and 'rel="next"' not in third
    back_url, back = follow(third, "prev")
    assert "antes=" in back_url and "Página 2" in back and _rows(back) == _rows(second)
    _, start = follow(back, "prev")
    assert "Página 1" in start and _rows(start) == _rows(first) and 'rel="prev"' not in start
    # htmx gets the same page, and the address bar keeps where it is.
    fragment = agent_client.get(back_url, headers=TABLE)
    assert _rows(fragment.get_data(as_text=True)) == _rows(second)
    assert fragment.headers["HX-Push-Url"] == back_url


def test_active_filters_show_as_chips_that_each_remove_their_filter(agent_client, make_ticket, agent_user):
    make_ticket("Pendente urgente", priority="URGENT")
    make_ticket("Pausado urgente", priority="URGENT", status=TicketStatus.PAUSED)
    make_ticket("Pendente baixa", priority="LOW")
    html = agent_client.get("/chamados?f=1&status=PENDING&prioridade=URGENT").get_data(as_text=True)
    hidden = '<span class="visually-hidden">Remover o filtro </span>'
    chip = r'<a class="chip" href="([^"]+)"[^>]*>' + hidden + "([^<]+)<"
    chips = {label: href.replace("&amp;", "&") for href, label in re.findall(chip, html)}
    assert set(chips) == {"Status: Pendente", "Prioridade: Urgente"}
    assert chips["Status: Pendente"] == "/chamados?f=1&prioridade=URGENT"
    assert "Pendente urgente" in html and "Pausado urgente" not in html
    without_status = agent_client.get(chips["Status: Pendente"]).get_data(as_text=True)
    assert "Pendente urgente" in without_status and "Pausado urgente" in without_status
    assert "Pendente baixa" not in without_status  # the other filter stays
    # A filter changed with htmx sends the chips again with the rows.
    fragment = agent_client.get("/chamados?f=1&status=PAUSED", headers=TABLE).get_data(as_text=True)
    assert '<div id="filter-chips" class="chips" hx-swap-oob="true">' in fragment
    assert "Status: Pausado" in fragment and "Prioridade: Urgente" not in fragment
    assert 'class="chip"' not in agent_client.get("/chamados?f=1").get_data(as_text=True)


def test_the_column_chooser_is_saved_per_person_and_applied(agent_client, app, tenant, make_ticket):
    ticket = make_ticket("Impressora")
    html = agent_client.get("/chamados?f=1").get_data(as_text=True)
    assert '<th class="col-fila">Fila</th>' in html and 'class="col-atualizado"' in html
    assert 'class="col-tempo"' not in html  # not among the default columns
    response = agent_client.post(
        "/chamados/colunas", data={"coluna": ["tempo", "status", "qualquer"], "query": "status=PENDING&fila="}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/chamados?f=1&status=PENDING"
    html = agent_client.get("/chamados?f=1").get_data(as_text=True)
    header = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    assert re.findall(r'<th class="col-(\w+)"', header) == ["check", "ref", "subject", "status", "tempo"]
    row = re.search(rf'<tr data-reference="{ticket.reference}">(.*?)</tr>', html, re.S).group(1)
    assert 'class="col-tempo"' in row and 'class="col-fila"' not in row and "Impressora" in row
    assert 'value="tempo" checked' in html and 'value="fila" >' in html
    # The rows a live refresh fetches are this person's columns too; another person keeps the default.
    assert 'class="col-fila"' not in agent_client.get("/chamados?f=1", headers=TABLE).get_data(as_text=True)
    colleague = logged_in_client(app, make_user(tenant, Role.AGENT, email="colega@acme.test"))
    assert 'class="col-fila"' in colleague.get("/chamados?f=1").get_data(as_text=True)


def test_saved_views_show_their_counts_after_the_list(agent_client, agent_user, make_ticket, monkeypatch):
    from app.services import ticket_pages

    for i in range(3):
        make_ticket(f"P{i}")
    make_ticket("Pausado", status=TicketStatus.PAUSED)
    pending = saved_views.create_view(agent_user, "Pendentes", "status=PENDING")
    paused = saved_views.create_view(agent_user, "Pausados", "status=PAUSED")
    page = agent_client.get("/chamados?f=1").get_data(as_text=True)
    assert 'hx-get="/chamados/visoes/contagens" hx-trigger="load"' in page  # the list does not wait
    assert 'id="view-count-' not in page
    monkeypatch.setattr(ticket_pages, "COUNT_CAP", 2)
    panel = agent_client.get("/chamados/visoes/contagens", headers=HTMX).get_data(as_text=True)
    assert re.search(rf'id="view-count-{pending.id}" title="Mais de 2 chamados">2\+</span>', panel)
    assert f'id="view-count-{paused.id}">1</span>' in panel
    assert "hx-trigger" not in panel and 'id="flash-area"' not in panel  # loads once; leaves messages be


def test_other_tenants_tickets_never_show(agent_client, other_tenant):
    outsider = make_user(other_tenant, Role.AGENT)
    with tenancy.scope(other_tenant.id):  # the other tenant's ticket, among its own rows
        ticket = create_ticket(tenant_id=other_tenant.id, requester=outsider, subject="Segredo")
    assert agent_client.get(f"/chamados/{ticket.reference}").status_code == 404
    assert "Segredo" not in agent_client.get("/chamados?f=1").get_data(as_text=True)


# --- saved default and views ---------------------------------------------------


def test_saved_default_applies_when_opening_chamados_and_can_be_cleared(agent_client, agent_user):
    response = agent_client.post("/chamados/padrao", data={"query": "status=PAUSED&q=rede"}, headers=HTMX)
    assert response.status_code == 200 and "Filtro salvo como padrão." in response.get_data(as_text=True)
    opened = agent_client.get("/chamados")
    assert opened.status_code == 302 and opened.headers["Location"] == "/chamados?f=1&status=PAUSED&q=rede"
    assert agent_client.get("/chamados?f=1").status_code == 200  # "no filter" chosen on purpose
    agent_client.post("/chamados/padrao/limpar", headers=HTMX)
    assert agent_client.get("/chamados").status_code == 200


def test_named_views_are_created_from_the_filter_form(agent_client, agent_user):
    response = agent_client.post(
        "/chamados/visoes",
        data={"name": "Urgentes pausados", "status": "PAUSED", "prioridade": "URGENT", "fila": "", "f": "1"},
        headers=HTMX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Urgentes pausados" in html
    view = saved_views.list_views(agent_user)[0]
    assert view.query == "status=PAUSED&prioridade=URGENT"
    duplicate = agent_client.post("/chamados/visoes", data={"name": "Urgentes pausados"}, headers=HTMX)
    assert duplicate.status_code == 422 and "já tem uma visão" in duplicate.get_data(as_text=True)
    agent_client.post(f"/chamados/visoes/{view.id}/renomear", data={"name": "Críticos"}, headers=HTMX)
    db.session.expire_all()
    assert saved_views.list_views(agent_user)[0].name == "Críticos"
    agent_client.post(f"/chamados/visoes/{view.id}/excluir", headers=HTMX)
    assert saved_views.list_views(agent_user) == []


def test_bulk_assign_from_the_list(agent_client, make_ticket, agent_user):
    tickets = [make_ticket(f"T{i}") for i in range(3)]
    response = agent_client.post(
        "/chamados/em-massa",
        data={
            "ticket": [str(t.id) for t in tickets[:2]],
            "bulk": f"atribuir:{agent_user.id}",
            "query": "status=PENDING",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/chamados?f=1&status=PENDING"
    db.session.expire_all()
    assert [db.session.get(Ticket, t.id).assignee_id for t in tickets] == [agent_user.id, agent_user.id, None]


def test_a_bulk_change_refused_halfway_changes_no_ticket(agent_client, make_ticket, monkeypatch):
    """The refusal is answered with a redirect (a success to the request's boundary): the view
    rolls back, so the tickets changed before the refused one keep their priority too."""
    from app.services import ticket_bulk
    from app.services.errors import ValidationError

    tickets = [make_ticket(f"T{i}") for i in range(3)]
    real_change, seen = ticket_bulk.change_priority, []

    def refuse_the_second(ticket, priority, actor):
        seen.append(ticket.id)
        if len(seen) == 2:
            raise ValidationError("Prioridade recusada.", field="priority")
        return real_change(ticket, priority, actor)

    monkeypatch.setattr(ticket_bulk, "change_priority", refuse_the_second)
    response = agent_client.post(
        "/chamados/em-massa", data={"ticket": [str(t.id) for t in tickets], "bulk": "prioridade:HIGH"}
    )
    assert response.status_code == 302 and len(seen) == 2
    assert "Prioridade recusada." in agent_client.get(response.headers["Location"]).get_data(as_text=True)
    with db.engine.connect() as connection:
        priorities = set(connection.scalars(select(Ticket.priority)))
    assert priorities == {"MEDIUM"}


def test_bulk_to_what_it_already_is_is_a_neutral_message(agent_client, make_ticket, agent_user):
    tickets = [make_ticket(f"T{i}", assignee_id=agent_user.id) for i in range(2)]
    response = agent_client.post(
        "/chamados/em-massa",
        data={"ticket": [str(t.id) for t in tickets], "bulk": f"atribuir:{agent_user.id}"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    neutral = "Nenhum chamado mudou: os selecionados já estavam com Artur Agente."
    assert f'<div class="flash flash-info">{neutral}</div>' in html
    assert "0 chamado(s)" not in html


def test_bulk_pause_and_close_from_the_list(agent_client, make_ticket, agent_user):
    from app.services.tickets import change_status

    ticket = make_ticket("Em andamento")
    change_status(ticket, "iniciar", agent_user)
    list_page = agent_client.get("/chamados?f=1").get_data(as_text=True)
    assert '<option value="pausar">Pausar</option>' in list_page and 'name="reason"' in list_page
    assert 'id="bulk-message-editor"' in list_page
    response = agent_client.post(
        "/chamados/em-massa",
        data={"ticket": [str(ticket.id)], "bulk": "pausar", "reason": "Almoço"},
        follow_redirects=True,
    )
    assert "1 chamado(s) pausado(s)." in response.get_data(as_text=True)
    refused = agent_client.post(
        "/chamados/em-massa",
        data={"ticket": [str(ticket.id)], "bulk": "encerrar", "message": ""},
        follow_redirects=True,
    )
    assert "Escreva a mensagem de encerramento." in refused.get_data(as_text=True)
    done = agent_client.post(
        "/chamados/em-massa",
        data={"ticket": [str(ticket.id)], "bulk": "encerrar", "message": "<p>Resolvido.</p>"},
        follow_redirects=True,
    )
    assert "1 chamado(s) encerrado(s)." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status is TicketStatus.RESOLVED


# --- new ticket -------------------------------------------------------------------


def test_new_ticket_form_preselects_chamados_and_creates(agent_client, collaborator, queue):
    form = agent_client.get("/chamados/novo").get_data(as_text=True)
    assert re.search(r'<option value="\d+" selected>Chamados</option>', form)
    response = agent_client.post(
        "/chamados/novo",
        data={
            "subject": "Notebook não liga",
            "description": "<p>Desde hoje</p>",
            "priority": "HIGH",
            "requester_email": collaborator.email,
        },
    )
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket).where(Ticket.subject == "Notebook não liga"))
    assert ticket.queue.name == "Chamados" and ticket.requester_id == collaborator.id
    assert response.headers["Location"] == f"/chamados/{ticket.reference}"


def test_new_ticket_errors_rerender_with_what_was_typed(agent_client):
    response = agent_client.post(
        "/chamados/novo",
        data={
            "subject": "",
            "description": "<p>Texto longo que não pode se perder</p>",
            "requester_email": "",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Informe o assunto do chamado." in html
    assert "Texto longo que não pode se perder" in html


# --- ticket page ------------------------------------------------------------------


def test_ticket_page_shows_badge_and_actions_not_a_dropdown(agent_client, make_ticket):
    ticket = make_ticket()
    html = agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)
    assert 'class="badge badge-grey" data-status="PENDING">Pendente' in html
    assert "▶ Iniciar" in html and "Encerrar" in html and "Pausar" not in html
    assert 'name="status"' not in html


def test_iniciar_via_htmx_answers_the_panel_and_timeline(agent_client, make_ticket, agent_user):
    ticket = make_ticket()
    response = agent_client.post(
        f"/chamados/{ticket.reference}/status",
        data={"action": "iniciar", "expected_status": "PENDING"},
        headers=HTMX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-status="IN_PROGRESS"' in html and "Pausar" in html
    assert 'id="timeline" class="timeline-section" hx-swap-oob="true"' in html
    assert 'id="comment-form" class="comment-form" hx-swap-oob="true"' in html  # editor became enabled
    assert "<trix-editor" in html
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).assignee_id == agent_user.id


def test_invalid_or_stale_action_is_a_409_with_a_message(agent_client, make_ticket):
    ticket = make_ticket(status=TicketStatus.RESOLVED)
    response = agent_client.post(
        f"/chamados/{ticket.reference}/status",
        data={"action": "pausar", "expected_status": "RESOLVED"},
        headers=HTMX,
    )
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#flash-area"
    assert "Não é possível pausar um chamado Resolvido." in response.get_data(as_text=True)
    stale = agent_client.post(
        f"/chamados/{ticket.reference}/status",
        data={"action": "iniciar", "expected_status": "PENDING"},
        headers=HTMX,
    )
    assert stale.status_code == 409 and "alterado por outra pessoa" in stale.get_data(as_text=True)


def test_assigning_enables_the_comment_editor(agent_client, make_ticket, agent_user):
    ticket = make_ticket()
    page = agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)
    assert "Atribua um responsável para comentar." in page and '<trix-editor input="comment-body"' not in page
    response = agent_client.post(
        f"/chamados/{ticket.reference}/responsavel", data={"assignee_id": str(agent_user.id)}, headers=HTMX
    )
    html = response.get_data(as_text=True)
    assert 'id="comment-form" class="comment-form" hx-swap-oob="true"' in html
    assert '<trix-editor input="comment-body"' in html
    again = agent_client.post(
        f"/chamados/{ticket.reference}/fila", data={"queue_id": str(ticket.queue_id)}, headers=HTMX
    ).get_data(as_text=True)
    assert 'id="comment-form"' not in again  # an unrelated change leaves what is being typed alone


def test_comment_with_attachment_and_internal_note(agent_client, make_ticket, agent_user):
    ticket = make_ticket(assignee_id=agent_user.id)
    response = agent_client.post(
        f"/chamados/{ticket.reference}/comentarios",
        data={
            "body": "<p>Veja o log</p>",
            "visibility": "INTERNAL",
            "files": [(__import__("io").BytesIO(b"erro 42\n"), "app.log")],
        },
        headers=HTMX,
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Veja o log" in html and "app.log" in html and "Interno" in html
    comment = db.session.scalar(select(Comment).where(Comment.ticket_id == ticket.id))
    assert comment.attachments[0].filename == "app.log"


def test_bad_comment_keeps_the_text(agent_client, make_ticket, agent_user):
    ticket = make_ticket(assignee_id=agent_user.id)
    response = agent_client.post(
        f"/chamados/{ticket.reference}/comentarios",
        data={"body": "<p>meu texto</p>", "files": [(__import__("io").BytesIO(b"<html>"), "foto.png")]},
        headers=HTMX,
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "não corresponde à extensão" in html
    assert 'value="&lt;p&gt;meu texto&lt;/p&gt;"' in html


def test_clearing_the_default_works_without_htmx_too(agent_client, make_ticket):
    """A click before htmx has loaded submits the form as a plain POST: it still clears."""
    from tests.conftest import csrf_token_from

    token = csrf_token_from(agent_client, "/chamados")
    agent_client.post("/chamados/padrao", data={"query": "prioridade=URGENT", "csrf_token": token})
    page = agent_client.get("/chamados", follow_redirects=True).get_data(as_text=True)  # to the default
    form = re.search(r'<form method="post" action="(/chamados/padrao/limpar)"', page)
    assert form, "the clear-default form has no plain POST fallback"
    response = agent_client.post(form.group(1), data={"csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200 and "Filtro padrão removido." in response.get_data(as_text=True)


# --- ticket page: timeline order --------------------------------------------------


def test_timeline_order_is_saved_per_person_and_moves_the_editor(agent_client, make_ticket, agent_user):
    ticket = make_ticket("Lento", assignee_id=agent_user.id)
    page = agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)
    assert page.index('id="timeline"') < page.index('id="comment-form"')  # oldest first: reply at the end
    assert '<button type="submit" name="ordem" value="antigos" aria-pressed="true">' in page
    response = agent_client.post(
        f"/chamados/{ticket.reference}/linha-do-tempo/ordem", data={"ordem": "recentes"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/chamados/{ticket.reference}#timeline"
    page = agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)
    assert page.index('id="comment-form"') < page.index('id="timeline"')
    assert '<button type="submit" name="ordem" value="recentes" aria-pressed="true">' in page
    bad = agent_client.post(f"/chamados/{ticket.reference}/linha-do-tempo/ordem", data={"ordem": "x"})
    assert bad.status_code == 422 and "Ordem da linha do tempo inválida." in bad.get_data(as_text=True)


# --- ticket page: Atribuir a mim ----------------------------------------------------


def test_assign_to_me_shows_until_the_ticket_is_mine(agent_client, make_ticket, agent_user, admin_user):
    ticket = make_ticket("Sem dono", assignee_id=admin_user.id)
    page = agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)
    assert 'id="assign-to-me">Atribuir a mim</button>' in page
    assert f'name="assignee_id" value="{agent_user.id}"' in page
    response = agent_client.post(
        f"/chamados/{ticket.reference}/responsavel", data={"assignee_id": str(agent_user.id)}, headers=HTMX
    )
    assert response.status_code == 200
    assert "Atribuir a mim" not in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).assignee_id == agent_user.id
    assert "Atribuir a mim" not in agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)


# --- ticket page: sidebar -----------------------------------------------------------


def test_the_sidebar_shows_the_requester_and_the_device(agent_client, chat_device, make_ticket):
    setup = chat_device()
    other = make_ticket("Outro problema", requester=setup.ticket.requester)
    html = agent_client.get(f"/chamados/{setup.ticket.reference}").get_data(as_text=True)
    start = html.index('<aside id="ticket-sidebar"')
    side = html[start : html.index("</aside>", start)]
    assert f'data-live="ticket:{setup.ticket.reference} machine:{setup.machine_id}"' in side
    assert "joana@paoquente.test" in side and "Padaria Pão Quente" in side
    assert f"#{other.reference} · Outro problema" in side
    assert 'id="side-device-state">Online</span>' in side and "recepcao-01" in side
    assert "Windows 11 Pro (26100)" in side and "Alertas abertos (0)" in side
    assert f'hx-post="/chamados/{setup.ticket.reference}/chat/iniciar" hx-target="#chat"' in side
    assert 'id="side-start-chat">Iniciar chat' in side


# --- ticket page: merging ---------------------------------------------------------------


def test_merge_flow_choose_preview_confirm(agent_client, make_ticket, agent_user):
    survivor = make_ticket("Impressora", assignee_id=agent_user.id)
    duplicate = make_ticket("Impressora de novo")
    page = agent_client.get(f"/chamados/{duplicate.reference}").get_data(as_text=True)
    assert (
        f'href="/chamados/{duplicate.reference}/mesclar" id="merge-link">Mesclar em outro chamado</a>' in page
    )
    form = agent_client.get(f"/chamados/{duplicate.reference}/mesclar").get_data(as_text=True)
    assert "Número do chamado que fica" in form and 'id="merge-preview"' not in form
    preview = agent_client.get(f"/chamados/{duplicate.reference}/mesclar?destino=%23{survivor.reference}")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="merge-preview"' in html
    assert "Eventos da linha do tempo: <strong>1</strong>" in html
    assert f"Mesclar #{duplicate.reference} no #{survivor.reference}</button>" in html
    db.session.expire_all()
    assert db.session.get(Ticket, duplicate.id).status is TicketStatus.PENDING  # a preview changes nothing

    done = agent_client.post(
        f"/chamados/{duplicate.reference}/mesclar", data={"destino": str(survivor.reference)}
    )
    assert done.status_code == 302 and done.headers["Location"] == f"/chamados/{survivor.reference}"
    page = agent_client.get(f"/chamados/{survivor.reference}").get_data(as_text=True)
    assert f"Chamado #{duplicate.reference} mesclado no #{survivor.reference}." in page
    assert f'<a href="/chamados/{duplicate.reference}">abrir #{duplicate.reference}</a>' in page
    merged = agent_client.get(f"/chamados/{duplicate.reference}").get_data(as_text=True)
    assert f'Mesclado no chamado <a href="/chamados/{survivor.reference}">#{survivor.reference}</a>' in merged
    assert 'id="merge-link"' not in merged  # resolved: nothing more to merge


def test_merge_bad_input_answers_4xx_in_portuguese_keeping_what_was_typed(agent_client, make_ticket):
    duplicate = make_ticket("Duplicado")
    resolved = make_ticket("Resolvido", status=TicketStatus.RESOLVED)
    url = f"/chamados/{duplicate.reference}/mesclar"
    for typed, status, message in (
        ("abc", 422, "Informe o número do chamado que fica (por exemplo, 1234)."),
        ("99999", 422, "Chamado #99999 não encontrado."),
        (str(duplicate.reference), 422, "Um chamado não pode ser mesclado nele mesmo: escolha outro."),
        (str(resolved.reference), 409, f"O chamado #{resolved.reference} está resolvido"),
    ):
        for response in (
            agent_client.get(url, query_string={"destino": typed}),
            agent_client.post(url, data={"destino": typed}),
        ):
            html = response.get_data(as_text=True)
            assert response.status_code == status, (typed, response.status_code)
            assert message in html and f'name="destino" id="merge-target" value="{typed}"' in html
    assert agent_client.get(f"/chamados/{resolved.reference}/mesclar").status_code == 409
    db.session.expire_all()
    assert db.session.get(Ticket, duplicate.id).status is TicketStatus.PENDING


def test_collaborators_cannot_merge(app, collaborator, make_ticket):
    from tests.conftest import logged_in_client

    survivor, duplicate = make_ticket("Fica"), make_ticket("Sai")
    portal = logged_in_client(app, collaborator)
    url = f"/chamados/{duplicate.reference}/mesclar"
    assert portal.get(url).headers["Location"] == "/portal"
    assert portal.post(url, data={"destino": str(survivor.reference)}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Ticket, duplicate.id).status is TicketStatus.PENDING
