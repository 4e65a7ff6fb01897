"""Command-line tools: `flask seed-demo`, `flask queues ensure`, `flask users create`."""

import click
from flask import Flask, current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Company, Role, Tenant
from app.services.demo import seed_demo
from app.services.errors import DomainError
from app.services.queues import ensure_default_queues
from app.services.tenants import create_tenant
from app.services.users import create_user


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(queues_group)
    app.cli.add_command(users_group)
    app.cli.add_command(tenants_group)


@click.command("seed-demo")
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


@click.group("queues")
def queues_group():
    """Ticket queues."""


@queues_group.command("ensure")
def queues_ensure():
    """Make sure every tenant has the default queue "Chamados"."""
    queues = ensure_default_queues()
    db.session.commit()
    click.echo(f"Fila padrão garantida em {len(queues)} tenant(s).")


@click.group("tenants")
def tenants_group():
    """Support organisations (one per installation is typical)."""


@tenants_group.command("create")
@click.option("--key", required=True, help="Identificador interno, ex.: suporte")
@click.option("--name", required=True, help="Nome da organização de suporte")
def tenants_create(key, name):
    """Create a tenant with its default queue "Chamados"."""
    try:
        tenant = create_tenant(key, name)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Tenant criado: {tenant.key} ({tenant.name}) com a fila Chamados.")


@click.group("users")
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
def users_create(email, name, role, apelido, tenant_key, password):
    """Create a user who can log in."""
    tenant = _tenant(tenant_key)
    company_id = None
    if apelido:
        company = db.session.scalar(
            select(Company).where(Company.tenant_id == tenant.id, Company.apelido == apelido)
        )
        if company is None:
            raise click.ClickException(f"Empresa com apelido {apelido!r} não encontrada.")
        company_id = company.id
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
