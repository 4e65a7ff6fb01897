from sqlalchemy import func, select

from app.extensions import db
from app.models import Queue, Ticket, TicketStatus, User
from app.services.auth import authenticate


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_is_idempotent_and_keeps_passwords(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "admin@demo.chamados.local" in first.output
    tickets, users = _count(Ticket), _count(User)
    assert tickets >= 50
    statuses = set(db.session.scalars(select(Ticket.status)).all())
    assert statuses == set(TicketStatus)
    assert {q.name for q in db.session.scalars(select(Queue))} >= {"Chamados"}
    assert db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.assignee_id.is_(None))) > 0
    manager = db.session.scalar(select(User).where(User.email == "maria.oliveira@paoquente.com.br"))
    assert manager.persona == "manager" and "maria.oliveira@paoquente.com.br" in first.output

    from app.services.passwords import hash_password

    admin = db.session.scalar(select(User).where(User.email == "admin@demo.chamados.local"))
    admin.password_hash = hash_password("trocada-pelo-admin")
    db.session.commit()

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "nada novo" in second.output
    assert (_count(Ticket), _count(User)) == (tickets, users)
    assert authenticate("admin@demo.chamados.local", "trocada-pelo-admin").user is not None


def test_queues_ensure_creates_chamados_for_every_tenant(app, tenant, other_tenant):
    result = app.test_cli_runner().invoke(args=["queues", "ensure"])
    assert result.exit_code == 0 and "2 tenant(s)" in result.output
    names = db.session.execute(select(Queue.tenant_id, Queue.name)).all()
    assert sorted(names) == sorted([(tenant.id, "Chamados"), (other_tenant.id, "Chamados")])


def test_users_create_makes_a_user_who_can_log_in(app, tenant, company):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "nova@acme.test",
            "--name",
            "Nova Pessoa",
            "--role",
            "collaborator",
            "--company",
            "paoquente",
            "--password",
            "uma-senha-boa",
        ]
    )
    assert result.exit_code == 0, result.output
    user = authenticate("nova@acme.test", "uma-senha-boa").user
    assert user.company_id == company.id

    duplicate = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "nova@acme.test",
            "--name",
            "X",
            "--password",
            "uma-senha-boa",
        ]
    )
    assert duplicate.exit_code != 0 and "Já existe um usuário com este e-mail." in duplicate.output

    short = runner.invoke(
        args=["users", "create", "--email", "b@acme.test", "--name", "B", "--password", "curta"]
    )
    assert short.exit_code != 0 and "pelo menos 8 caracteres" in short.output


def test_tenants_create_then_first_admin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tenants", "create", "--key", "suporte", "--name", "Suporte TI"])
    assert result.exit_code == 0, result.output
    assert [q.name for q in db.session.scalars(select(Queue))] == ["Chamados"]
    again = runner.invoke(args=["tenants", "create", "--key", "suporte", "--name", "X"])
    assert again.exit_code != 0 and "Já existe" in again.output
    admin = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "eu@suporte.test",
            "--name",
            "Eu",
            "--role",
            "admin",
            "--tenant",
            "suporte",
            "--password",
            "senha-forte-1",
        ]
    )
    assert admin.exit_code == 0, admin.output
    assert authenticate("eu@suporte.test", "senha-forte-1").user.role == "admin"
