from app.extensions import db
from app.services.tickets import create_ticket


def test_painel_counts_tickets_by_status(agent_client, tenant, collaborator):
    for subject in ("Um", "Dois"):
        create_ticket(tenant_id=tenant.id, requester=collaborator, subject=subject)
    html = agent_client.get("/").get_data(as_text=True)
    assert "Painel" in html
    assert 'data-status="PENDING">Pendente</span>\n    <strong>2</strong>' in html


def test_ticket_list_and_page(agent_client, tenant, collaborator):
    ticket = create_ticket(
        tenant_id=tenant.id,
        requester=collaborator,
        subject="Impressora não imprime",
        description_html="<p>Papel <b>atolado</b></p>",
    )
    html = agent_client.get("/chamados").get_data(as_text=True)
    assert "Impressora não imprime" in html and "Sem responsável" in html and "Pendente" in html
    page = agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)
    assert "<p>Papel <b>atolado</b></p>" in page and "Chamados" in page


def test_htmx_requests_get_a_fragment_and_plain_requests_the_full_page(agent_client, tenant, collaborator):
    create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Fragmento")
    full = agent_client.get("/chamados")
    fragment = agent_client.get("/chamados", headers={"HX-Request": "true"})
    assert "<html" in full.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True) and "Fragmento" in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


def test_ticket_list_is_paginated(agent_client, tenant, collaborator):
    for number in range(55):
        create_ticket(tenant_id=tenant.id, requester=collaborator, subject=f"Chamado {number}", commit=False)
    db.session.commit()
    first = agent_client.get("/chamados").get_data(as_text=True)
    assert first.count('<tr>\n    <td><a href="/chamados/') == 50 and "antes=6" in first
    second = agent_client.get("/chamados?antes=6").get_data(as_text=True)
    assert second.count('<tr>\n    <td><a href="/chamados/') == 5


def test_other_tenants_tickets_are_404(agent_client, other_tenant):
    from app.models import Role
    from tests.conftest import make_user

    outsider = make_user(other_tenant, Role.AGENT)
    ticket = create_ticket(tenant_id=other_tenant.id, requester=outsider, subject="Segredo")
    assert agent_client.get(f"/chamados/{ticket.reference}").status_code == 404
    assert "Segredo" not in agent_client.get("/chamados").get_data(as_text=True)


def test_admin_lists_companies_with_apelido(admin_client, company):
    html = admin_client.get("/empresas").get_data(as_text=True)
    assert "Apelido" in html and "paoquente" in html and company.provisioning_code in html
    assert "slug" not in html.lower()


def test_unknown_page_is_a_portuguese_404(agent_client):
    response = agent_client.get("/nao-existe")
    assert response.status_code == 404 and "Página não encontrada." in response.get_data(as_text=True)


def test_api_errors_are_json(client):
    response = client.get("/api/nada")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "Página não encontrada."}}
