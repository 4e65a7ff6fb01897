"""The audit log: every admin action and sign-in leaves a row with who, what, before/after and IP."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Company, Queue
from app.services import audit
from app.services.auth import authenticate
from tests.conftest import PASSWORD


def entries(action: str | None = None) -> list[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.id)
    if action:
        query = query.where(AuditLog.action == action)
    return db.session.scalars(query).all()


def test_company_changes_are_audited_with_before_and_after(admin_client, admin_user, tenant):
    admin_client.post("/empresas/nova", data={"name": "Nova Ltda", "apelido": "nova", "cnpj": ""})
    company = db.session.scalar(select(Company).where(Company.apelido == "nova"))
    admin_client.post(
        f"/empresas/{company.id}",
        data={"name": "Nova Comércio Ltda", "apelido": "nova", "cnpj": "", "is_active": "1"},
    )

    created, changed = entries("empresa.criar"), entries("empresa.alterar")
    assert len(created) == 1 and created[0].target_id == company.id
    assert created[0].changes["name"] == [None, "Nova Ltda"]
    (entry,) = changed
    assert (entry.actor_id, entry.actor_label, entry.tenant_id) == (
        admin_user.id,
        admin_user.email,
        tenant.id,
    )
    assert (entry.target_type, entry.target_label) == ("empresa", "nova")
    assert entry.changes == {"name": ["Nova Ltda", "Nova Comércio Ltda"]}
    assert entry.ip == "127.0.0.1"


def test_an_edit_that_changes_nothing_is_not_audited(admin_client, company):
    admin_client.post(
        f"/empresas/{company.id}",
        data={"name": company.name, "apelido": company.apelido, "cnpj": "", "is_active": "1"},
    )
    assert entries("empresa.alterar") == []


def test_user_queue_and_settings_actions_are_audited_and_secrets_never_stored(
    admin_client, tenant, collaborator
):
    admin_client.post(
        "/usuarios/novo",
        data={"name": "Nova Agente", "email": "nova@acme.test", "role": "agent", "password": "senha-boa-123"},
    )
    admin_client.post(f"/usuarios/{collaborator.id}/senha", data={"password": "nova-senha-123"})
    admin_client.post("/filas", data={"name": "Infraestrutura"})
    queue_id = db.session.scalar(select(Queue.id).where(Queue.name == "Infraestrutura"))
    admin_client.post(f"/filas/{queue_id}/renomear", data={"name": "Infra"})
    admin_client.post(f"/filas/{queue_id}/excluir")
    admin_client.post(
        "/dispositivos/inventario-externo/credenciais",
        data={"username": "inventario", "password": "segredo-forte"},
    )

    (user_created,) = entries("usuário.criar")
    assert user_created.changes["email"] == [None, "nova@acme.test"]
    assert user_created.changes["password_hash"] == [None, "(alterado)"]
    (password_changed,) = entries("usuário.alterar")
    assert password_changed.changes == {"password_hash": [None, "(alterado)"]}
    queue_actions = [e.action for e in entries() if (e.target_type, e.target_id) == ("fila", queue_id)]
    assert queue_actions == ["fila.criar", "fila.alterar", "fila.excluir"]
    assert entries("fila.alterar")[0].changes == {"name": ["Infraestrutura", "Infra"]}
    (settings,) = entries("configurações.alterar")
    assert settings.changes == {
        "inventory_username": [None, "inventario"],
        "inventory_password_hash": [None, "(alterado)"],
    }
    everything = str([(e.changes, e.target_label) for e in entries()])
    assert "senha-boa-123" not in everything and "$argon2" not in everything


def test_device_actions_are_audited(admin_client, register_device, collaborator):
    body, _ = register_device()
    machine_id = body["machineId"]
    admin_client.post(f"/dispositivos/{machine_id}/resetar")
    admin_client.post(f"/dispositivos/{machine_id}/vinculos", data={"email": collaborator.email})
    admin_client.post(f"/dispositivos/{machine_id}/vinculos/{collaborator.id}/remover")
    admin_client.post(f"/dispositivos/{machine_id}/usb", data={"mode": "BLOCK"})
    admin_client.post(
        f"/dispositivos/{machine_id}/acesso", data={"email": collaborator.email, "persona": "manager"}
    )
    admin_client.post(f"/dispositivos/{machine_id}/ativo", data={"active": "0"})

    actions = [e.action for e in entries()]
    for action in (
        "dispositivo.resetar",
        "vínculo.criar",
        "vínculo.excluir",
        "política USB.criar",
        "dispositivo.alterar",
    ):
        assert action in actions
    assert entries("dispositivo.resetar")[0].changes == {"tokens_revogados": [None, 1]}
    assert all(
        e.target_id == machine_id for e in entries() if e.action.startswith(("dispositivo", "vínculo"))
    )
    changes = [e.changes for e in entries("dispositivo.alterar")]
    assert {
        "persona": ["collaborator", "manager"],
        "assigned_user_id": [changes[0]["assigned_user_id"][0], collaborator.id],
    } in changes
    assert {"is_active": [True, False]} in changes


def test_what_devices_and_workers_change_is_not_audited(client, register_device):
    # Registration and heartbeats change device rows, but nobody signed in did it.
    _, auth = register_device()
    client.post("/api/machines/heartbeat", json={"metrics": {"cpuPercent": 5}}, headers=auth)
    assert entries() == []


def test_sign_ins_are_audited_success_and_failure(app, tenant, admin_user):
    assert authenticate(admin_user.email, PASSWORD).user is not None
    assert authenticate(admin_user.email, "errada").user is None
    assert authenticate("ninguem@acme.test", "x").user is None
    success, failure = entries("login.sucesso"), entries("login.falha")
    assert [(e.actor_id, e.target_id) for e in success] == [(admin_user.id, admin_user.id)]
    assert [(e.actor_id, e.target_label, e.changes["motivo"][1]) for e in failure] == [
        (None, admin_user.email, "senha inválida"),
        (None, "ninguem@acme.test", "e-mail desconhecido"),
    ]
    assert failure[0].tenant_id == tenant.id and failure[1].tenant_id is None


def test_a_change_that_rolls_back_leaves_no_audit_row(admin_client, company):
    # A duplicate apelido is refused after the hook could have run: nothing may remain.
    other = Company(tenant_id=company.tenant_id, name="Outra", apelido="outra")
    db.session.add(other)
    db.session.commit()
    response = admin_client.post(
        f"/empresas/{other.id}", data={"name": "Outra", "apelido": "paoquente", "cnpj": "", "is_active": "1"}
    )
    assert response.status_code == 422
    assert entries("empresa.alterar") == []


def test_filters_and_keyset_pages(app, tenant, admin_user, agent_user, monkeypatch):
    monkeypatch.setattr(audit, "PAGE_SIZE", 3)
    for i in range(5):
        audit.record(
            "login.sucesso", actor=admin_user, target=admin_user, target_type="usuário", target_label=f"a{i}"
        )
    audit.record("login.falha", actor=None, target=agent_user, target_type="usuário", target_label="agente")
    db.session.commit()

    filters, errors = audit.parse_filters({"ator": str(admin_user.id)})
    first, after = audit.list_entries(filters)
    second, end = audit.list_entries(filters, after)
    assert errors == [] and [e.target_label for e in first + second] == ["a4", "a3", "a2", "a1", "a0"]
    assert end is None
    failures, _ = audit.list_entries(audit.parse_filters({"acao": "login.falha"})[0])
    assert [e.target_label for e in failures] == ["agente"]
    by_target, _ = audit.list_entries(audit.parse_filters({"alvo": "agen"})[0])
    assert [e.target_label for e in by_target] == ["agente"]
    _, bad = audit.parse_filters({"de": "ontem"})
    assert bad == ["Data inicial inválida (use AAAA-MM-DD)."]


@pytest.mark.parametrize("days_ago, kept", [(0, True), (3, False)])
def test_the_period_filter_uses_local_days(app, tenant, admin_user, days_ago, kept):
    from datetime import timedelta

    from app.models.types import utcnow

    db.session.add(
        AuditLog(tenant_id=tenant.id, action="login.sucesso", created_at=utcnow() - timedelta(days=days_ago))
    )
    db.session.commit()
    today = utcnow().date()
    filters, _ = audit.parse_filters(
        {"de": (today - timedelta(days=1)).isoformat(), "ate": today.isoformat()}
    )
    rows, _ = audit.list_entries(filters)
    assert bool(rows) is kept
