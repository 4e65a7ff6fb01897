"""Command-line tools: `flask seed-demo`, `flask queues ensure`, `flask users create|disable-two-factor`,
`flask jobs list|run`, `flask maintenance`, `flask tickets archive|restore`.

Every command starts in no tenant's scope (`ScopedCommand`), as an anonymous request does:
one that works on a tenant enters its scope (`tenancy.scope`, `tenancy.for_each_tenant`),
one that looks across tenants says why (`tenancy.all_tenants`). Every command is one unit of
work (`@committed`): what it wrote is committed when it returns, rolled back when it fails (a
ClickException included)."""

import click
from flask import Flask, current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Company, Role, Tenant
from app.services import tenancy, two_factor
from app.services.demo import seed_demo
from app.services.errors import DomainError
from app.services.queues import ensure_default_queues
from app.services.tenants import create_tenant
from app.services.transaction import committed
from app.services.users import create_user, find_user


class ScopedCommand(click.Command):
    """A command that runs in no tenant's scope until it says which tenant it works on: reading a
    tenant's rows before that is an error (tenancy.TenantScopeMissing), not every tenant's rows."""

    def invoke(self, ctx):
        with tenancy.scope(tenancy.NO_TENANT):
            return super().invoke(ctx)


class ScopedGroup(click.Group):
    """A group whose commands are ScopedCommands."""

    command_class = ScopedCommand
    group_class = type  # a group inside it is a ScopedGroup too


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(queues_group)
    app.cli.add_command(users_group)
    app.cli.add_command(tenants_group)
    app.cli.add_command(jobs_group)
    app.cli.add_command(maintenance_command)
    app.cli.add_command(tickets_group)
    app.cli.add_command(smoke_command)


@click.command("seed-demo", cls=ScopedCommand)
@committed
def seed_demo_command():
    """Load demo data (idempotent; existing passwords are kept)."""
    config = current_app.config
    summary = seed_demo(config["SEED_USER_EMAIL"], config["SEED_USER_PASSWORD"], config["SEED_USER_NAME"])
    click.echo("Dados de demonstração: " + (", ".join(summary.created) or "nada novo (já carregados)"))
    click.echo("Logins de demonstração (senha inicial; uma senha já alterada é mantida):")
    for email, password, role in summary.logins:
        click.echo(f"  {role:<14} {email}  senha: {password}")
    secret = config.get("MACHINE_PROVISIONING_SECRET")
    if secret:
        click.echo(
            "Agente de referência: python -m agent register --server URL --code CÓDIGO --email E-MAIL "
            f"--secret {secret}"
        )
        for apelido, code in summary.company_codes:
            click.echo(f"  código da empresa {apelido}: {code}")


@click.group("queues", cls=ScopedGroup)
def queues_group():
    """Ticket queues."""


@queues_group.command("ensure")
@committed
def queues_ensure():
    """Make sure every tenant has the default queue "Chamados"."""
    queues = ensure_default_queues()
    click.echo(f"Fila padrão garantida em {len(queues)} tenant(s).")


@click.group("tenants", cls=ScopedGroup)
def tenants_group():
    """Support organisations (one per installation is typical)."""


@tenants_group.command("create")
@click.option("--key", required=True, help="Identificador interno, ex.: suporte")
@click.option("--name", required=True, help="Nome da organização de suporte")
@committed
def tenants_create(key, name):
    """Create a tenant with its default queue "Chamados"."""
    try:
        tenant = create_tenant(key, name)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Tenant criado: {tenant.key} ({tenant.name}) com a fila Chamados.")


@click.group("users", cls=ScopedGroup)
def users_group():
    """People."""


def _tenant(key: str | None) -> Tenant:
    query = select(Tenant).order_by(Tenant.id)
    if key:
        query = query.where(Tenant.key == key)
    tenant = db.session.scalar(query)
    if tenant is None:
        raise click.ClickException("Tenant não encontrado. Rode `flask seed-demo` ou informe --tenant.")
    return tenant


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.AGENT.value, show_default=True
)
@click.option("--company", "apelido", help="Apelido da empresa (colaboradores).")
@click.option("--tenant", "tenant_key", help="Chave do tenant (padrão: o primeiro).")
@click.password_option("--password", prompt="Senha")
@committed
def users_create(email, name, role, apelido, tenant_key, password):
    """Create a user who can log in."""
    tenant = _tenant(tenant_key)
    with tenancy.scope(tenant.id):
        company_id = _company_id(apelido)
        try:
            user = create_user(
                tenant_id=tenant.id,
                email=email,
                name=name,
                role=role,
                password=password,
                company_id=company_id,
            )
        except DomainError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"Usuário criado: {user.email} ({user.role_label})")


@users_group.command("disable-two-factor")
@click.option("--email", required=True)
@click.option("--tenant", "tenant_key", help="Chave do tenant (padrão: o primeiro).")
@committed
def users_disable_two_factor(email, tenant_key):
    """Turn off a person's second factor (an admin who lost the phone and the recovery codes;
    anyone else is helped by an admin in Usuários)."""
    tenant = _tenant(tenant_key)
    with tenancy.scope(tenant.id):
        user = find_user(email)
        if user is None:
            raise click.ClickException(f"Nenhum usuário com o e-mail {email!r} neste tenant.")
        try:
            two_factor.disable_from_the_command_line(user)
        except DomainError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"Verificação em duas etapas desativada: {user.email}")


def _company_id(apelido: str | None) -> int | None:
    """The id of the current tenant's company with this apelido (None without one)."""
    if not apelido:
        return None
    company = db.session.scalar(select(Company).where(Company.apelido == apelido))
    if company is None:
        raise click.ClickException(f"Empresa com apelido {apelido!r} não encontrada.")
    return company.id


# --- background jobs, maintenance, archive ------------------------------------------


@click.group("jobs", cls=ScopedGroup)
def jobs_group():
    """Background jobs (workers/jobs.py)."""


@jobs_group.command("list")
@committed
def jobs_list():
    """Show the schedule."""
    from app.jobs.registry import JOBS
    from app.jobs.schedule import next_run

    config = current_app.config
    for spec in JOBS.values():
        enabled = spec.enabled(config)
        when = next_run(spec, config).strftime("%d/%m %H:%M") if enabled else f"desativada ({spec.flag})"
        click.echo(f"{spec.name:<27} {spec.cron_expression(config):<14} próxima: {when}")


@jobs_group.command("run")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="retention_sweep: só conta o que seria removido.")
@committed
def jobs_run(name, dry_run):
    """Run one job now, in this process (recorded on Tarefas)."""
    from app.jobs.runner import JobDisabled, UnknownJob, run_job

    kwargs = {"dry_run": True} if dry_run else {}
    try:
        outcome = run_job(name, "cli", **kwargs)
    except UnknownJob:
        raise click.ClickException(f"Tarefa desconhecida: {name}. Veja `flask jobs list`.") from None
    except JobDisabled as error:
        raise click.ClickException(str(error)) from None
    except TypeError:
        raise click.ClickException(f"{name} não aceita --dry-run.") from None
    click.echo(f"{name}: {outcome.summary}" + (" (há mais a fazer)" if outcome.has_more else ""))


@click.command("maintenance", cls=ScopedCommand)
@click.option("--dry-run", is_flag=True, help="Só mostra o resumo e o que a retenção removeria.")
@committed
def maintenance_command(dry_run):
    """Print the health summary (what Saúde shows); without --dry-run, run the retention sweep."""
    from app.jobs.runner import run_job
    from app.services.health import check_queue, health_snapshot, system_overview

    queue = check_queue()
    snapshot, _ = health_snapshot(current_app.config["VERSION"], queue)
    tenancy.for_each_tenant(_echo_tenant_overview)
    with tenancy.all_tenants("the retention figures are the whole install's"):
        system = system_overview(queue)
    size = system["database_size_bytes"]
    size_text = f", {size / 1048576:.1f} MB" if size else ""
    click.echo(f"Banco: {snapshot['database']['status']} ({snapshot['database']['backend']}){size_text}")
    click.echo(f"Redis: {snapshot['redis']['status']}")
    click.echo("Fila de tarefas: " + ", ".join(f"{k}={v}" for k, v in snapshot["queue"].items()))
    click.echo(f"Falhas de tarefas (24 h): {system['failed_runs_24h']}")
    click.echo("Retenção (linhas além do prazo):")
    for row in system["retention"]:
        click.echo(f"  {row['table']:<22} {row['overdue']}")
    if dry_run:
        click.echo("--dry-run: nada foi removido.")
        return
    outcome = run_job("retention_sweep", "cli")
    click.echo(f"retention_sweep: {outcome.summary}")


def _echo_tenant_overview(tenant: Tenant) -> None:
    from app.services.health import tenant_overview

    overview = tenant_overview()
    click.echo(f"== {tenant.name} ({tenant.key})")
    click.echo("Chamados: " + ", ".join(f"{k}={v}" for k, v in overview["tickets"].items()))
    click.echo("Cadastros: " + ", ".join(f"{k}={v}" for k, v in overview["registrations"].items()))
    click.echo("Heartbeats: " + ", ".join(f"{k}={v}" for k, v in overview["heartbeats"].items()))


@click.group("tickets", cls=ScopedGroup)
def tickets_group():
    """Tickets: local JSONL archive."""


@tickets_group.command("archive")
@click.option(
    "--older-than", "days", type=click.IntRange(min=1), required=True, help="Dias desde a resolução."
)
@click.option("--dir", "directory", help="Pasta de destino (padrão: ARCHIVE_DIR).")
@committed
def tickets_archive(days, directory):
    """Write resolved tickets older than DAYS (with comments and events) to a JSONL file."""
    from app.services.archive import archive_resolved

    result = archive_resolved(days, directory)
    click.echo(f"Arquivo: {result.summary()}")


@tickets_group.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@committed
def tickets_restore(path):
    """Bring back the tickets of an archive file that are missing from the database."""
    from app.services.archive import restore_archive

    result = restore_archive(path)
    click.echo(f"Restauração: {result.summary()}")


@click.command("smoke", cls=ScopedCommand)
@click.option(
    "--url", required=True, help="Endereço do Chamados implantado, ex.: https://chamados.exemplo.com"
)
@click.option("--code", envvar="SMOKE_COMPANY_CODE", help="Código da empresa (padrão: SMOKE_COMPANY_CODE).")
@click.option("--secret", envvar="MACHINE_PROVISIONING_SECRET", help="Padrão: MACHINE_PROVISIONING_SECRET.")
@click.option("--timeout", default=15.0, show_default=True, help="Segundos por requisição.")
@committed
def smoke_command(url, code, secret, timeout):
    """Teste pós-deploy: registra um dispositivo descartável, envia um heartbeat e o remove."""
    from app.services.smoke import SmokeFailed, run_smoke

    secret = secret or current_app.config.get("MACHINE_PROVISIONING_SECRET")
    if not code or not secret:
        raise click.ClickException("Informe --code (ou SMOKE_COMPANY_CODE) e o segredo de provisionamento.")
    try:
        steps = run_smoke(url, code, secret, timeout)
    except SmokeFailed as failure:
        click.echo(f"FALHA {failure}", err=True)
        raise SystemExit(1) from None
    for step in steps:
        click.echo(f"ok {step.name}: HTTP {step.status} ({step.detail})")
    click.echo("Smoke test concluído.")
