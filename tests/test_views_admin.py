from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, Company, Machine, Queue, Role, User
from tests.conftest import csrf_token_from, make_user


def test_company_create_with_inline_portuguese_errors(admin_client, company):
    response = admin_client.post("/empresas/nova", data={"name": "Outra", "apelido": "paoquente", "cnpj": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Já existe uma empresa com este apelido." in html
    assert 'value="Outra"' in html and "slug" not in html.lower()
    created = admin_client.post("/empresas/nova", data={"name": "Nova Ltda", "apelido": "nova", "cnpj": ""})
    assert created.status_code == 302
    assert db.session.scalar(select(Company).where(Company.apelido == "nova")).name == "Nova Ltda"


def test_company_edit_deactivate_and_rotate(admin_client, company):
    old = company.provisioning_code
    page = admin_client.get(f"/empresas/{company.id}").get_data(as_text=True)
    assert old in page and "Apelido" in page
    admin_client.post(f"/empresas/{company.id}", data={"name": company.name, "apelido": "pao", "cnpj": ""})
    admin_client.post(f"/empresas/{company.id}/codigo")
    db.session.expire_all()
    company = db.session.get(Company, company.id)
    assert company.apelido == "pao" and company.is_active is False and company.provisioning_code != old


def test_users_type_filter(admin_client, tenant, company, collaborator):
    db.session.add(Machine(tenant_id=tenant.id, company_id=company.id, hostname="recepcao-01"))
    db.session.commit()
    everyone = admin_client.get("/usuarios").get_data(as_text=True)
    assert "Carlos Colaborador" in everyone and "recepcao-01" in everyone
    people = admin_client.get("/usuarios?tipo=pessoas").get_data(as_text=True)
    assert "Carlos Colaborador" in people and "recepcao-01" not in people
    devices = admin_client.get("/usuarios?tipo=dispositivos").get_data(as_text=True)
    assert "Carlos Colaborador" not in devices and "recepcao-01" in devices
    for label in ("Todos", "Pessoas", "Dispositivos"):
        assert label in everyone


def test_user_create_edit_and_password(admin_client, company, collaborator):
    bad = admin_client.post("/usuarios/novo", data={"name": "X", "email": "nao-e-email", "role": "agent"})
    assert bad.status_code == 422 and "Informe um e-mail válido." in bad.get_data(as_text=True)
    admin_client.post(
        "/usuarios/novo",
        data={"name": "Nova Agente", "email": "nova@acme.test", "role": "agent", "password": "senha-boa-123"},
    )
    assert db.session.scalar(select(User).where(User.email == "nova@acme.test")).role == "agent"
    admin_client.post(
        f"/usuarios/{collaborator.id}",
        data={
            "name": collaborator.name,
            "email": "carlos.novo@paoquente.test",
            "role": "collaborator",
            "company_id": str(company.id),
            "persona": "manager",
            "is_active": "1",
        },
    )
    db.session.expire_all()
    edited = db.session.get(User, collaborator.id)
    assert edited.email == "carlos.novo@paoquente.test" and edited.persona == "manager"
    assert 'value="manager" selected' in admin_client.get(f"/usuarios/{collaborator.id}").get_data(
        as_text=True
    )
    response = admin_client.post(f"/usuarios/{collaborator.id}/senha", data={"password": "nova-senha-123"})
    assert response.status_code == 302


def test_queues_page(admin_client, tenant, queue):
    page = admin_client.get("/filas").get_data(as_text=True)
    assert "Chamados" in page and "(padrão)" in page
    admin_client.post("/filas", data={"name": "Infraestrutura"})
    infra = db.session.scalar(select(Queue).where(Queue.name == "Infraestrutura"))
    admin_client.post(f"/filas/{infra.id}/renomear", data={"name": "Infra"})
    chamados = db.session.scalar(select(Queue).where(Queue.name == "Chamados"))
    refused = admin_client.post(f"/filas/{chamados.id}/excluir", follow_redirects=True)
    assert "não pode ser excluída" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert {q.name for q in db.session.scalars(select(Queue))} == {"Chamados", "Infra"}


def test_admin_pages_are_closed_to_agents(agent_client, company):
    for path in ("/empresas", "/empresas/nova", f"/empresas/{company.id}", "/usuarios", "/filas"):
        assert agent_client.get(path).status_code == 403
    assert agent_client.post("/filas", data={"name": "x"}).status_code == 403


def test_merge_page_previews_then_merges(admin_client, tenant, company, collaborator):
    from app.models import UserAlias

    survivor = make_user(tenant, role=Role.COLLABORATOR, email="carlos@novo.test", company=company)
    url = f"/usuarios/{collaborator.id}/mesclar"
    assert "Mesclar esta conta em outra" in admin_client.get(f"/usuarios/{collaborator.id}").get_data(
        as_text=True
    )
    unknown = admin_client.get(url, query_string={"destino": "ninguem@x.test"})
    assert unknown.status_code == 422 and "Nenhuma conta com este e-mail." in unknown.get_data(as_text=True)
    preview = admin_client.get(url, query_string={"destino": survivor.email}).get_data(as_text=True)
    assert "O que passa para" in preview and "Chamados abertos (solicitante)" in preview
    assert db.session.scalar(select(UserAlias)) is None  # looking changes nothing
    done = admin_client.post(url, data={"destino": survivor.email}, follow_redirects=True)
    assert f"Conta {collaborator.email} mesclada em {survivor.email}." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, collaborator.id).is_active is False


def test_pages_that_show_queues_write_nothing(admin_client, tenant):
    """A GET never writes: a tenant without "Chamados" gets it with its first ticket, not by
    opening Filas or Novo chamado."""
    assert admin_client.get("/filas").status_code == 200
    assert admin_client.get("/chamados/novo").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Queue)) == 0
    token = csrf_token_from(admin_client, "/chamados/novo")
    admin_client.post("/chamados/novo", data={"subject": "Primeiro", "csrf_token": token})
    assert [q.name for q in db.session.scalars(select(Queue))] == ["Chamados"]


# --- Usuários ▸ Segurança, and a person's second factor ----------------------------------------


def _enrol(user):
    import pyotp

    from app.services import two_factor

    secret = two_factor.new_secret()
    two_factor.enable(user, secret, pyotp.TOTP(secret).now())


def test_the_security_page_requires_the_admins_own_second_factor_first(
    admin_client, admin_user, tenant, agent_user
):
    assert 'href="/usuarios/seguranca"' in admin_client.get("/usuarios").get_data(as_text=True)
    page = admin_client.get("/usuarios/seguranca").get_data(as_text=True)
    assert "Exigir verificação em duas etapas da equipe" in page and "Artur Agente" in page
    refused = admin_client.post("/usuarios/seguranca", data={"require_two_factor": "1"})
    assert refused.status_code == 422 and "Ative primeiro" in refused.get_data(as_text=True)
    assert admin_client.post("/usuarios/seguranca", data={"require_two_factor": "sim"}).status_code == 422
    _enrol(admin_user)
    done = admin_client.post("/usuarios/seguranca", data={"require_two_factor": "1"})
    assert done.status_code == 302
    db.session.refresh(tenant)
    assert tenant.require_two_factor
    assert "A equipe agora precisa" in admin_client.get("/usuarios/seguranca").get_data(as_text=True)
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "2fa.exigência"))
    assert row.actor_id == admin_user.id and row.changes == {"exigir da equipe": ["não", "sim"]}
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "configurações.alterar")) is None
    admin_client.post("/usuarios/seguranca", data={})
    db.session.refresh(tenant)
    assert not tenant.require_two_factor


def test_an_admin_turns_off_the_second_factor_of_someone_who_lost_the_phone(admin_client, agent_user):
    page = admin_client.get(f"/usuarios/{agent_user.id}").get_data(as_text=True)
    assert "Desativada" in page and "duas-etapas/desativar" not in page
    _enrol(agent_user)
    page = admin_client.get(f"/usuarios/{agent_user.id}").get_data(as_text=True)
    assert f"/usuarios/{agent_user.id}/duas-etapas/desativar" in page
    response = admin_client.post(f"/usuarios/{agent_user.id}/duas-etapas/desativar")
    assert response.status_code == 302
    db.session.refresh(agent_user)
    assert not agent_user.has_two_factor
    again = admin_client.post(f"/usuarios/{agent_user.id}/duas-etapas/desativar", follow_redirects=True)
    assert "já está desativada" in again.get_data(as_text=True)
    trail = select(AuditLog).where(AuditLog.action.startswith("2fa.")).order_by(AuditLog.id)
    assert [r.action for r in db.session.scalars(trail)] == [
        "2fa.ativada",
        "2fa.desativada",
    ]


def test_the_security_pages_are_closed_to_agents(agent_client, admin_user):
    assert agent_client.get("/usuarios/seguranca").status_code == 403
    assert agent_client.post("/usuarios/seguranca", data={"require_two_factor": "1"}).status_code == 403
    assert agent_client.post(f"/usuarios/{admin_user.id}/duas-etapas/desativar").status_code == 403


def test_an_admin_setting_a_password_signs_the_person_out_but_not_themselves(
    app, admin_client, admin_user, agent_user
):
    from tests.conftest import logged_in_client

    agent = logged_in_client(app, agent_user)
    admin_client.post(f"/usuarios/{agent_user.id}/senha", data={"password": "senha-nova-do-agente"})
    assert agent.get("/").status_code == 302
    admin_client.post(f"/usuarios/{admin_user.id}/senha", data={"password": "senha-nova-da-admin"})
    assert admin_client.get("/").status_code == 200
