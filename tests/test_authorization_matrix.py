"""Every portal and staff route, for every kind of visitor: exactly the expected status.

Columns: admin, agent, collaborator of company A (the ticket's requester), manager
persona of company A, collaborator of company B, a device session (another person
of company A, collaborator persona), anonymous.
"""

import pytest

from app.extensions import db
from app.models import Company, Persona, Role
from app.services import tickets as ticket_service
from tests.conftest import csrf_token_from, logged_in_client, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
VISITORS = ("admin", "agent", "collab_a", "manager_a", "collab_b", "device", "anonymous")

# (method, path template, expected statuses in VISITORS order)
MATRIX = [
    # portal
    ("GET", "/portal", (302, 302, 200, 200, 200, 200, 302)),
    ("GET", "/portal?status=PENDING", (302, 302, 200, 200, 200, 200, 302)),
    ("GET", "/portal/chamados/novo", (302, 302, 200, 200, 200, 200, 302)),
    ("GET", "/portal/chamados/{ref}", (302, 302, 200, 200, 404, 404, 302)),
    ("POST", "/portal/chamados/{ref}/comentarios", (403, 403, 302, 302, 404, 404, 302)),
    ("POST", "/portal/chamados/{ref}/reabrir", (403, 403, 409, 409, 404, 404, 302)),
    ("GET", "/portal/debug", (302, 302, 200, 200, 200, 200, 302)),
    ("GET", "/anexos/{attachment}", (200, 200, 200, 200, 404, 404, 302)),
    # staff
    ("GET", "/", (200, 200, 302, 302, 302, 302, 302)),
    ("GET", "/chamados", (200, 200, 302, 302, 302, 302, 302)),
    ("GET", "/chamados/{ref}", (200, 200, 302, 302, 302, 302, 302)),
    ("GET", "/chamados/novo", (200, 200, 302, 302, 302, 302, 302)),
    ("POST", "/chamados/{ref}/prioridade", (302, 302, 403, 403, 403, 403, 302)),
    ("POST", "/chamados/{ref}/linha-do-tempo/ordem", (422, 422, 403, 403, 403, 403, 302)),
    ("GET", "/chamados/{ref}/mesclar", (200, 200, 302, 302, 302, 302, 302)),
    ("POST", "/chamados/{ref}/mesclar", (422, 422, 403, 403, 403, 403, 302)),
    ("GET", "/respostas-prontas", (200, 403, 302, 302, 302, 302, 302)),
    ("POST", "/respostas-prontas", (422, 403, 403, 403, 403, 403, 302)),
    ("GET", "/empresas", (200, 403, 302, 302, 302, 302, 302)),
    ("GET", "/usuarios", (200, 403, 302, 302, 302, 302, 302)),
    ("GET", "/filas", (200, 403, 302, 302, 302, 302, 302)),
    ("GET", "/dispositivos", (200, 200, 302, 302, 302, 302, 302)),
    ("GET", "/dispositivos/{machine}", (200, 200, 302, 302, 302, 302, 302)),
    ("POST", "/dispositivos/{spare_machine}/resetar", (302, 403, 403, 403, 403, 403, 302)),
    ("GET", "/admin/saude", (200, 200, 302, 302, 302, 302, 302)),
    # device context
    ("GET", "/api/machines/session", (401, 401, 401, 401, 401, 200, 401)),
]


@pytest.fixture
def world(app, tenant, company, admin_user, agent_user, collaborator, register_device, queue):
    company_b = Company(tenant_id=tenant.id, name="Mercado Bom Preço", apelido="bompreco")
    db.session.add(company_b)
    db.session.commit()
    manager = make_user(tenant, Role.COLLABORATOR, email="gerente@paoquente.test", company=company)
    manager.persona = Persona.MANAGER
    db.session.commit()
    collab_b = make_user(tenant, Role.COLLABORATOR, email="ana@bompreco.test", company=company_b)
    body, auth = register_device(email="joana@paoquente.test")
    # Reset in the matrix on another device: resetting this one would (rightly) end the device session.
    spare, _ = register_device(
        email="caixa@paoquente.test", serials=("SN-002",), macs=(), hostname="caixa-02"
    )

    ticket = ticket_service.create_ticket(tenant_id=tenant.id, requester=collaborator, subject="Sem internet")
    comment = ticket_service.add_comment(ticket, collaborator, "<p>print</p>", "PUBLIC", [("tela.png", PNG)])

    device = app.test_client()
    device.get(f"/machines/handshake?token={auth['Authorization'].split()[1]}")
    device.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token_from(device, "/portal")
    anonymous = app.test_client()
    anonymous.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token_from(anonymous, "/login")
    clients = {
        "admin": logged_in_client(app, admin_user),
        "agent": logged_in_client(app, agent_user),
        "collab_a": logged_in_client(app, collaborator),
        "manager_a": logged_in_client(app, manager),
        "collab_b": logged_in_client(app, collab_b),
        "device": device,
        "anonymous": anonymous,
    }
    ids = {
        "ref": ticket.reference,
        "attachment": comment.attachments[0].id,
        "machine": body["machineId"],
        "spare_machine": spare["machineId"],
    }
    return clients, ids


def test_every_route_answers_each_visitor_as_expected(world):
    clients, ids = world
    mismatches = []
    for method, template, expected in MATRIX:
        path = template.format(**ids)
        for visitor, status in zip(VISITORS, expected, strict=True):
            data = {"body": "<p>oi</p>", "priority": "HIGH", "expected_status": "RESOLVED"}
            response = clients[visitor].open(path, method=method, data=data if method == "POST" else None)
            if response.status_code != status:
                mismatches.append(f"{method} {path} as {visitor}: {response.status_code}, expected {status}")
    assert mismatches == []
