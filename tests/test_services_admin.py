"""Companies, users and queues as admins manage them."""

import pytest

from app.extensions import db
from app.models import Role
from app.services import companies, queues, users
from app.services.errors import Conflict, ValidationError
from tests.conftest import make_user


def test_company_validation_messages_are_portuguese(tenant, company):
    with pytest.raises(ValidationError, match="Já existe uma empresa com este apelido"):
        companies.create_company(tenant.id, name="Outra", apelido="PaoQuente")
    with pytest.raises(ValidationError, match="apelido usa apenas"):
        companies.create_company(tenant.id, name="X", apelido="com espaço")
    with pytest.raises(ValidationError, match="CNPJ inválido"):
        companies.create_company(tenant.id, name="X", apelido="x", cnpj="11.111.111/1111-11")


def test_company_cnpj_is_formatted_and_edit_without_change_writes_nothing(tenant):
    company = companies.create_company(tenant.id, name="Clínica", apelido="clinica", cnpj="11222333000181")
    assert company.cnpj == "11.222.333/0001-81"
    updated_at = company.updated_at
    assert (
        companies.update_company(company, name="Clínica", apelido="clinica", cnpj="11.222.333/0001-81")
        is False
    )
    assert company.updated_at == updated_at
    assert companies.update_company(company, name="Clínica", apelido="clinica", is_active=False) is True
    assert company.is_active is False and company.cnpj is None


def test_provisioning_code_rotates(company):
    old = company.provisioning_code
    assert companies.rotate_provisioning_code(company) != old


def test_user_email_change_keeps_the_same_id(tenant, admin_user, company):
    person = make_user(tenant, Role.COLLABORATOR, email="velho@x.test", company=company)
    assert users.update_user(
        person,
        email="Novo@X.test",
        name=person.name,
        role="collaborator",
        company_id=company.id,
        is_active=True,
        actor=admin_user,
    )
    db.session.expire_all()
    assert users.find_user("novo@x.test").id == person.id


def test_user_rules(tenant, admin_user, company, agent_user):
    with pytest.raises(ValidationError, match="Já existe um usuário"):
        users.update_user(
            agent_user,
            email=admin_user.email,
            name="x",
            role="agent",
            company_id=None,
            is_active=True,
            actor=admin_user,
        )
    with pytest.raises(ValidationError, match="precisam de uma empresa"):
        users.update_user(
            agent_user,
            email=agent_user.email,
            name="x",
            role="collaborator",
            company_id=None,
            is_active=True,
            actor=admin_user,
        )
    with pytest.raises(ValidationError, match="própria conta"):
        users.update_user(
            admin_user,
            email=admin_user.email,
            name="x",
            role="agent",
            company_id=None,
            is_active=True,
            actor=admin_user,
        )
    with pytest.raises(ValidationError, match="pelo menos 8"):
        users.set_password(agent_user, "curta")


def test_chamados_queue_cannot_be_deleted_or_renamed(tenant, make_ticket):
    default = queues.default_queue(tenant.id)
    db.session.commit()
    with pytest.raises(Conflict, match="não pode ser excluída"):
        queues.delete_queue(default)
    with pytest.raises(ValidationError, match="não pode ser renomeada"):
        queues.rename_queue(default, "Geral")


def test_queue_life_cycle(tenant, make_ticket):
    infra = queues.create_queue(tenant.id, " Infraestrutura ")
    with pytest.raises(ValidationError, match="Já existe uma fila"):
        queues.create_queue(tenant.id, "Infraestrutura")
    queues.rename_queue(infra, "Infra")
    make_ticket(queue_id=infra.id)
    with pytest.raises(Conflict, match="tem chamados"):
        queues.delete_queue(infra)
    empty = queues.create_queue(tenant.id, "Vazia")
    queues.delete_queue(empty)
    assert [q.name for q in queues.list_queues()] == ["Infra"]
