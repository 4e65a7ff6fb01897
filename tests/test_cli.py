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


def test_every_demo_ticket_is_described_as_its_subject_says(app, demo):
    """A demo ticket's description is what a requester would write for its subject (not the
    subject again, nor another ticket's story)."""
    from app.services.demo import DEMO_CHAT_SUBJECT, SUBJECTS

    tickets = db.session.execute(select(Ticket.subject, Ticket.description_text)).all()
    assert len(tickets) >= 50
    for subject, description in tickets:
        if subject == DEMO_CHAT_SUBJECT:
            assert description.startswith(subject)
            continue
        assert description == SUBJECTS[subject], subject
        assert description != subject and len(description) > len(subject) / 2
    # Every subject's story names what the subject is about.
    keywords = {
        "Impressora não imprime": "impressora",
        "Sem acesso ao e-mail": "e-mail",
        "Computador lento ao iniciar": "computador",
        "Wi-Fi caindo na recepção": "internet sem fio",
        "Instalar certificado digital": "certificado digital",
        "Erro ao abrir o sistema fiscal": "sistema fiscal",
        "Trocar senha do usuário": "senha",
        "Backup não concluído": "backup",
        "Monitor sem imagem": "monitor",
        "VPN não conecta": "vpn",
        "Atualização do Windows travada": "windows",
        "Scanner não aparece na rede": "scanner",
    }
    assert set(keywords) == set(SUBJECTS)
    for subject, keyword in keywords.items():
        assert keyword in SUBJECTS[subject].lower(), subject


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


def test_maintenance_dry_run_prints_the_health_summary_and_removes_nothing(app, make_machine):
    from datetime import timedelta

    from app.models import MetricSample
    from app.models.types import utcnow

    app.test_cli_runner().invoke(args=["seed-demo"])
    machine = make_machine()
    db.session.add(MetricSample(machine_id=machine.id, taken_at=utcnow() - timedelta(days=120)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["maintenance", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert (
        "Chamados: PENDING=" in result.output and "Heartbeats: online=0, offline=0, never=1" in result.output
    )
    # The demo's three computers each sent one heartbeat with metrics just now: only the
    # 120-day-old sample is past retention.
    assert "metric_samples         1" in result.output and "nada foi removido" in result.output
    assert _count(MetricSample) == 4

    swept = app.test_cli_runner().invoke(args=["maintenance"])
    assert "metric_samples=1" in swept.output and _count(MetricSample) == 3


def test_jobs_list_and_run_from_the_terminal(app):
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["jobs", "list"])
    assert "chat_cleanup" in listing.output and "desativada (AUTO_PAUSE_LUNCH_ENABLED)" in listing.output
    ran = runner.invoke(args=["jobs", "run", "retention_sweep", "--dry-run"])
    assert ran.exit_code == 0 and "linhas a remover" in ran.output
    unknown = runner.invoke(args=["jobs", "run", "nao-existe"])
    assert unknown.exit_code != 0 and "Tarefa desconhecida" in unknown.output


def test_tickets_archive_and_restore_commands(app, make_ticket, agent_user, tmp_path):
    from datetime import timedelta

    from sqlalchemy import delete

    from app.models import Comment, TicketEvent
    from app.models.types import utcnow
    from app.services.tickets import change_status

    ticket = make_ticket("Arquivar")
    change_status(ticket, "encerrar", agent_user, message_html="<p>ok</p>")
    ticket.resolved_at = utcnow() - timedelta(days=400)
    db.session.commit()
    runner = app.test_cli_runner()
    archived = runner.invoke(args=["tickets", "archive", "--older-than", "365", "--dir", str(tmp_path)])
    assert archived.exit_code == 0 and "1 chamados (1 comentários" in archived.output
    [path] = tmp_path.glob("tickets-*.jsonl")
    for model in (Comment, TicketEvent, Ticket):
        db.session.execute(delete(model))
    db.session.commit()
    restored = runner.invoke(args=["tickets", "restore", str(path)])
    assert "restaurados 1 chamados" in restored.output and _count(Ticket) == 1
    assert runner.invoke(args=["tickets", "archive", "--older-than", "0"]).exit_code != 0


# --- flask smoke (post-deploy check) ----------------------------------------------------


def test_smoke_registers_beats_and_cleans_up_against_a_live_server(app, live_server, company):
    from app.models import Machine

    result = app.test_cli_runner().invoke(
        args=["smoke", "--url", live_server, "--code", company.provisioning_code]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok registro: HTTP 201")
    assert lines[1].startswith("ok heartbeat: HTTP 200")
    assert lines[2].startswith("ok remoção: HTTP 200")
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Machine)) == 0
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email.like("smoke-%"))) == 0


def test_smoke_fails_with_a_clear_line(app, live_server, company):
    runner = app.test_cli_runner()
    wrong = runner.invoke(
        args=["smoke", "--url", live_server, "--code", company.provisioning_code, "--secret", "errado"]
    )
    assert wrong.exit_code == 1
    assert "FALHA registro: esperava HTTP 201, veio 401 (provisioning_secret_invalid" in wrong.output

    unknown = runner.invoke(args=["smoke", "--url", live_server, "--code", "NAOEXISTE"])
    assert unknown.exit_code == 1 and "veio 404 (company_not_found" in unknown.output

    down = runner.invoke(args=["smoke", "--url", "http://127.0.0.1:9", "--code", "X", "--timeout", "2"])
    assert down.exit_code == 1 and "servidor inacessível" in down.output


def test_users_disable_two_factor_helps_the_admin_who_lost_the_phone(app, tenant, admin_user):
    import pyotp

    from app.models import AuditLog
    from app.services import two_factor

    secret = two_factor.new_secret()
    two_factor.enable(admin_user, secret, pyotp.TOTP(secret).now())
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "disable-two-factor", "--email", "admin@acme.test", "--tenant", "acme"]
    )
    assert result.exit_code == 0, result.output
    assert "Verificação em duas etapas desativada: admin@acme.test" in result.output
    db.session.refresh(admin_user)
    assert not admin_user.has_two_factor
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "2fa.desativada"))
    assert row.changes == {"por": [None, "linha de comando do servidor"]} and row.tenant_id == tenant.id
    again = runner.invoke(args=["users", "disable-two-factor", "--email", "admin@acme.test"])
    assert again.exit_code == 1 and "já está desativada" in again.output
    missing = runner.invoke(args=["users", "disable-two-factor", "--email", "ninguem@acme.test"])
    assert missing.exit_code == 1 and "Nenhum usuário" in missing.output
