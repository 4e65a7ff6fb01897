"""The collaborators' portal: own tickets, company manager, opening, public
comments, reopening, and 404 for anything that is not theirs."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, Company, Persona, Role, Ticket, TicketStatus
from app.models.types import utcnow
from app.services import tenancy, timeline
from app.services import tickets as ticket_service
from tests.conftest import logged_in_client, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def collaborator_client(app, collaborator):
    return logged_in_client(app, collaborator)


def _resolve(ticket, agent, message="<p>Troquei o cabo de rede.</p>"):
    ticket_service.assign(ticket, agent.id, agent)
    return ticket_service.change_status(ticket, "encerrar", agent, message_html=message)


def test_portal_lists_only_own_tickets_and_filters_by_status(
    collaborator_client, make_ticket, tenant, company, collaborator
):
    colleague = make_user(tenant, Role.COLLABORATOR, email="colega@paoquente.test", company=company)
    make_ticket("Impressora sem papel")
    make_ticket("Monitor piscando", status=TicketStatus.PAUSED)
    make_ticket("Chamado da colega", requester=colleague)
    html = collaborator_client.get("/portal").get_data(as_text=True)
    assert "Impressora sem papel" in html and "Monitor piscando" in html
    assert "Chamado da colega" not in html and "Meus chamados" in html
    fragment = collaborator_client.get("/portal?status=PAUSED", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "Monitor piscando" in text and "Impressora sem papel" not in text and "<html" not in text


def test_company_manager_persona_sees_the_company_tickets(app, make_ticket, tenant, company, collaborator):
    manager = make_user(tenant, Role.COLLABORATOR, email="gerente@paoquente.test", company=company)
    manager.persona = Persona.MANAGER
    db.session.commit()
    other_company = Company(tenant_id=tenant.id, name="Outra Loja", apelido="outra")
    db.session.add(other_company)
    db.session.commit()
    outsider = make_user(tenant, Role.COLLABORATOR, email="x@outra.test", company=other_company)
    make_ticket("Do colaborador")
    make_ticket("De outra empresa", requester=outsider)
    html = logged_in_client(app, manager).get("/portal").get_data(as_text=True)
    assert "Chamados da empresa" in html and "Do colaborador" in html and "Carlos Colaborador" in html
    assert "De outra empresa" not in html


def test_the_menu_names_the_list_the_portal_shows(app, collaborator_client, tenant, company):
    def menu(client, path="/portal/chamados/novo"):
        html = client.get(path).get_data(as_text=True)
        return html[html.index('<nav class="mainnav"') : html.index("</nav>")]

    own = menu(collaborator_client)
    assert "Meus chamados" in own and "Chamados da empresa" not in own
    manager = make_user(tenant, Role.COLLABORATOR, email="gerente@paoquente.test", company=company)
    manager.persona = Persona.MANAGER
    db.session.commit()
    as_manager = logged_in_client(app, manager)
    assert "Chamados da empresa" in menu(as_manager) and "Meus chamados" not in menu(as_manager)


def test_collaborator_opens_a_ticket_with_an_attachment(collaborator_client, collaborator, queue):
    response = collaborator_client.post(
        "/portal/chamados/novo",
        data={
            "subject": "Sem acesso ao e-mail",
            "description": "<p>Desde hoje cedo <script>alert(1)</script></p>",
            "files": (io.BytesIO(PNG), "print.png"),
        },
        content_type="multipart/form-data",
    )
    ticket = db.session.scalar(select(Ticket))
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/portal/chamados/{ticket.reference}"
    )
    assert ticket.requester_id == collaborator.id and ticket.queue.name == "Chamados"
    assert "<script>" not in ticket.description_html
    page = collaborator_client.get(f"/portal/chamados/{ticket.reference}").get_data(as_text=True)
    assert "Sem acesso ao e-mail" in page and "print.png" in page and "Pendente" in page
    attachment = db.session.scalar(select(Attachment))
    assert collaborator_client.get(f"/anexos/{attachment.id}").data == PNG


def test_a_refused_ticket_keeps_what_was_typed(collaborator_client, queue):
    response = collaborator_client.post(
        "/portal/chamados/novo",
        data={
            "subject": "Arquivo estranho",
            "description": "<p>Texto longo</p>",
            "files": (io.BytesIO(b"MZ"), "a.exe"),
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'value="Arquivo estranho"' in html and "Texto longo" in html
    assert db.session.scalar(select(Ticket)) is None


def test_internal_comments_and_events_never_reach_the_portal(
    collaborator_client, agent_client, agent_user, make_ticket
):
    ticket = make_ticket("Rede lenta")
    ticket_service.assign(ticket, agent_user.id, agent_user)
    ticket_service.add_comment(ticket, agent_user, "<p>Resposta pública ao cliente</p>", "PUBLIC")
    internal = ticket_service.add_comment(
        ticket,
        agent_user,
        "<p>Nota interna: cliente usa roteador pirata</p>",
        "INTERNAL",
        [("nota.png", PNG)],
    )
    ticket_service.change_status(ticket, "iniciar", agent_user)
    ticket_service.change_status(ticket, "pausar", agent_user, reason="aguardando peça do fornecedor")
    url = f"/portal/chamados/{ticket.reference}"
    full = collaborator_client.get(url).get_data(as_text=True)
    comment = collaborator_client.post(
        f"{url}/comentarios", data={"body": "<p>Obrigado!</p>"}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    for html in (full, comment):
        assert "Resposta pública ao cliente" in html
        assert "Nota interna" not in html and "nota.png" not in html
        assert "Atribuído a" not in html and "aguardando peça" not in html
    assert "Obrigado!" in comment and "Em andamento → Pausado" in comment
    assert collaborator_client.get(f"/anexos/{internal.attachments[0].id}").status_code == 404
    assert "Nota interna" in agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)


def test_collaborator_comments_are_public_even_when_asked_otherwise(collaborator_client, make_ticket):
    ticket = make_ticket()
    collaborator_client.post(
        f"/portal/chamados/{ticket.reference}/comentarios",
        data={"body": "<p>Oi</p>", "visibility": "INTERNAL"},
    )
    comments = [e.item for e in timeline.timeline(ticket, include_internal=True) if e.kind == "comment"]
    assert [c.visibility.value for c in comments] == ["PUBLIC"]


def test_reopen_within_the_window_and_not_after(app, collaborator_client, agent_user, make_ticket):
    ticket = _resolve(make_ticket("Sem som"), agent_user)
    page = collaborator_client.get(f"/portal/chamados/{ticket.reference}").get_data(as_text=True)
    assert "Troquei o cabo de rede." in page and "Reabrir chamado" in page
    response = collaborator_client.post(
        f"/portal/chamados/{ticket.reference}/reabrir",
        data={"expected_status": "RESOLVED", "message": "<p>Voltou a falhar</p>"},
        follow_redirects=True,
    )
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.PENDING and "reaberto" in response.get_data(as_text=True)
    assert "Voltou a falhar" in response.get_data(as_text=True)

    late = _resolve(make_ticket("Teclado"), agent_user)
    late.resolved_at = utcnow() - timedelta(days=app.config["PORTAL_REOPEN_DAYS"], minutes=1)
    db.session.commit()
    assert "Reabrir chamado" not in collaborator_client.get(f"/portal/chamados/{late.reference}").get_data(
        as_text=True
    )
    refused = collaborator_client.post(
        f"/portal/chamados/{late.reference}/reabrir",
        data={"expected_status": "RESOLVED"},
        follow_redirects=True,
    )
    assert refused.status_code == 409 and "prazo para reabrir" in refused.get_data(as_text=True)
    db.session.refresh(late)
    assert late.status == TicketStatus.RESOLVED


def test_collaborators_cannot_change_status_other_than_reopening(collaborator, make_ticket):
    from app.services.errors import PermissionDenied

    ticket = make_ticket()
    with pytest.raises(PermissionDenied):
        ticket_service.change_status(ticket, "encerrar", collaborator, message_html="<p>feito</p>")


def test_tickets_of_others_are_404_on_every_portal_url(
    app, collaborator_client, make_ticket, tenant, company, other_tenant, agent_user
):
    colleague = make_user(tenant, Role.COLLABORATOR, email="colega@paoquente.test", company=company)
    foreign = make_user(other_tenant, Role.COLLABORATOR, email="alguem@outro.test")
    theirs = make_ticket("Da colega", requester=colleague)
    ticket_service.add_comment(theirs, colleague, "<p>anexo</p>", "PUBLIC", [("a.png", PNG)])
    from app.services.tickets import create_ticket

    with tenancy.scope(other_tenant.id):  # the other tenant's ticket, among its own rows
        elsewhere = create_ticket(tenant_id=other_tenant.id, requester=foreign, subject="Outro tenant")
    attachment = db.session.scalar(select(Attachment))
    for ticket in (theirs, elsewhere):
        base = f"/portal/chamados/{ticket.reference}"
        assert collaborator_client.get(base).status_code == 404
        assert collaborator_client.post(f"{base}/comentarios", data={"body": "<p>x</p>"}).status_code == 404
        assert collaborator_client.post(f"{base}/reabrir").status_code == 404
    assert collaborator_client.get(f"/anexos/{attachment.id}").status_code == 404


def test_staff_are_sent_from_the_portal_to_their_pages(agent_client, collaborator_client):
    assert agent_client.get("/portal").headers["Location"].endswith("/")
    assert collaborator_client.get("/chamados").headers["Location"].endswith("/portal")
    assert collaborator_client.get("/dispositivos").headers["Location"].endswith("/portal")


def test_portal_list_is_paginated(collaborator_client, make_ticket):
    for i in range(23):
        make_ticket(f"Chamado número {i:02d}")
    first = collaborator_client.get("/portal").get_data(as_text=True)
    assert "23 chamados" in first and "Chamado número 22" in first and "Chamado número 02" not in first
    assert "Próxima" in first
    second = collaborator_client.get("/portal?pagina=2").get_data(as_text=True)
    assert "Chamado número 02" in second and "Chamado número 22" not in second and "Próxima" not in second
