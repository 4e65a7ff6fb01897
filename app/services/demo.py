"""Demo data for `flask seed-demo`. Idempotent: it only adds what is missing
and never resets a password."""

import random
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (
    Comment,
    CommentVisibility,
    Company,
    Persona,
    Role,
    Tenant,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
    User,
)
from app.models.types import utcnow
from app.services.queues import DEMO_QUEUES, ensure_queue
from app.services.tickets import create_ticket, record_event
from app.services.users import create_user, find_user

DEMO_TENANT_KEY = "demo"
DEMO_PASSWORD = "chamados-demo"
DEMO_TICKET_COUNT = 52

STAFF = (
    ("ana.souza@demo.chamados.local", "Ana Souza", Role.AGENT),
    ("bruno.lima@demo.chamados.local", "Bruno Lima", Role.AGENT),
    ("carla.mendes@demo.chamados.local", "Carla Mendes", Role.MANAGER),
)
COMPANIES = (
    (
        "paoquente",
        "Padaria Pão Quente Ltda.",
        "12.345.678/0001-90",
        (
            ("joao.silva@paoquente.com.br", "João Silva"),
            ("maria.oliveira@paoquente.com.br", "Maria Oliveira"),
        ),
    ),
    (
        "contabil-lima",
        "Escritório Contábil Lima",
        None,
        (
            ("paulo.lima@contabillima.com.br", "Paulo Lima"),
            ("renata.costa@contabillima.com.br", "Renata Costa"),
        ),
    ),
    (
        "clinica-sorriso",
        "Clínica Sorriso",
        "98.765.432/0001-10",
        (
            ("dra.beatriz@clinicasorriso.com.br", "Beatriz Nunes"),
            ("recepcao@clinicasorriso.com.br", "Recepção Clínica Sorriso"),
        ),
    ),
)
SUBJECTS = (
    "Impressora não imprime",
    "Sem acesso ao e-mail",
    "Computador lento ao iniciar",
    "Wi-Fi caindo na recepção",
    "Instalar certificado digital",
    "Erro ao abrir o sistema fiscal",
    "Trocar senha do usuário",
    "Backup não concluído",
    "Monitor sem imagem",
    "VPN não conecta",
    "Atualização do Windows travada",
    "Scanner não aparece na rede",
)


@dataclass
class DemoSummary:
    created: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    company_codes: list[tuple[str, str]] = field(default_factory=list)


def _ensure_tenant() -> Tenant:
    tenant = db.session.scalar(select(Tenant).where(Tenant.key == DEMO_TENANT_KEY))
    if tenant is None:
        tenant = Tenant(key=DEMO_TENANT_KEY, name="Suporte Demo")
        db.session.add(tenant)
        db.session.flush()
    return tenant


def _ensure_user(tenant, summary, email, name, role, password, company_id=None, persona=None) -> User:
    user = find_user(tenant.id, email)
    if user is None:
        user = create_user(
            tenant_id=tenant.id,
            email=email,
            name=name,
            role=role,
            password=password,
            company_id=company_id,
            persona=persona or Persona.COLLABORATOR,
            commit=False,
        )
        db.session.flush()
        summary.created.append(f"usuário {email}")
    return user


def _ensure_company(tenant, summary, apelido, name, cnpj) -> Company:
    company = db.session.scalar(
        select(Company).where(Company.tenant_id == tenant.id, Company.apelido == apelido)
    )
    if company is None:
        company = Company(tenant_id=tenant.id, apelido=apelido, name=name, cnpj=cnpj)
        db.session.add(company)
        db.session.flush()
        summary.created.append(f"empresa {apelido}")
    return company


def seed_demo(admin_email: str, admin_password: str, admin_name: str) -> DemoSummary:
    summary = DemoSummary()
    tenant = _ensure_tenant()
    queues = [ensure_queue(tenant.id, name) for name in DEMO_QUEUES]

    admin = _ensure_user(tenant, summary, admin_email, admin_name, Role.ADMIN, admin_password)
    summary.logins.append((admin.email, admin_password, "Administrador"))
    staff = [admin]
    for email, name, role in STAFF:
        staff.append(_ensure_user(tenant, summary, email, name, role, DEMO_PASSWORD))
        summary.logins.append((email, DEMO_PASSWORD, role.label))

    collaborators = []
    for apelido, name, cnpj, people in COMPANIES:
        company = _ensure_company(tenant, summary, apelido, name, cnpj)
        summary.company_codes.append((company.apelido, company.provisioning_code))
        for email, person in people:
            # The second person of the first company manages it: the portal shows them every ticket of it.
            persona = Persona.MANAGER if email == COMPANIES[0][3][1][0] else Persona.COLLABORATOR
            collaborators.append(
                _ensure_user(
                    tenant, summary, email, person, Role.COLLABORATOR, DEMO_PASSWORD, company.id, persona
                )
            )
    summary.logins.append((collaborators[0].email, DEMO_PASSWORD, "Colaborador"))
    summary.logins.append(
        (collaborators[1].email, DEMO_PASSWORD, "Colaboradora, gestora da empresa (portal)")
    )
    db.session.commit()

    existing = db.session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.tenant_id == tenant.id)
    )
    if not existing:
        _seed_tickets(tenant, queues, [*staff[1:], admin], collaborators)
        summary.created.append(f"{DEMO_TICKET_COUNT} chamados")
    return summary


def _seed_tickets(tenant, queues, agents, collaborators) -> None:
    """Tickets in every status, spread over the last 30 days, some unassigned."""
    rng = random.Random(42)  # the same demo on every machine
    statuses = list(TicketStatus)
    now = utcnow()
    for index in range(DEMO_TICKET_COUNT):
        requester = rng.choice(collaborators)
        status = statuses[index % len(statuses)]
        created = now - timedelta(days=rng.uniform(0, 30), minutes=rng.randint(0, 600))
        ticket = create_ticket(
            tenant_id=tenant.id,
            requester=requester,
            subject=rng.choice(SUBJECTS),
            description_html=f"<p>{rng.choice(SUBJECTS)}. Pode verificar, por favor?</p>",
            queue_id=rng.choice(queues).id if index % 3 else None,
            priority=rng.choice(list(TicketPriority)),
            commit=False,
        )
        ticket.created_at = created
        ticket.updated_at = created
        db.session.flush()
        # Back-date the CREATED event written by create_ticket to match.
        db.session.execute(
            update(TicketEvent).where(TicketEvent.ticket_id == ticket.id).values(created_at=created)
        )
        if status is TicketStatus.PENDING and (index // len(statuses)) % 2:
            continue  # unassigned and untouched: what the Painel puts first
        agent = rng.choice(agents)
        _work_ticket(ticket, status, agent, created, now)
    db.session.commit()


def _work_ticket(ticket, status, agent, created, now) -> None:
    started = created + timedelta(minutes=30)
    ticket.assignee_id = agent.id
    ticket.first_response_at = started
    record_event(ticket, "ASSIGNED", agent, to=agent.id, to_name=agent.name).created_at = started
    comment = Comment(
        ticket_id=ticket.id,
        author_id=agent.id,
        created_at=started,
        body_html="<p>Olá! Já estou verificando o seu chamado.</p>",
        visibility=CommentVisibility.PUBLIC,
    )
    db.session.add(comment)
    ticket.status = status
    if status is TicketStatus.IN_PROGRESS:
        ticket.in_progress_since = started
    elif status is TicketStatus.PAUSED:
        ticket.worked_seconds = 1800
    elif status is TicketStatus.RESOLVED:
        ticket.worked_seconds = 2700
        ticket.resolved_at = min(started + timedelta(hours=2), now)
    if status is not TicketStatus.PENDING:
        record_event(ticket, "STATUS_CHANGED", agent, to=status.value).created_at = started
    ticket.updated_at = started
