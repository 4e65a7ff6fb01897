"""Demo data for `flask seed-demo`. Idempotent: it only adds what is missing
and never resets a password. Everything after the demo tenant itself is done in its scope."""

import random
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from flask import current_app
from sqlalchemy import delete, func, select

from app.chat.messages import post_message
from app.chat.sessions import start_session
from app.devices.heartbeats import record_heartbeat
from app.devices.inventory import SentInventory
from app.devices.registration import register
from app.devices.tokens import authenticate_token
from app.extensions import db
from app.models import (
    Comment,
    Company,
    EmailMessage,
    Machine,
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
from app.services import tenancy
from app.services.portal import PortalViewer, open_ticket
from app.services.queues import DEMO_QUEUES, ensure_queue
from app.services.tickets import add_comment, assign, change_status, create_ticket
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
# Each demo subject with a description a requester would write for it.
SUBJECTS = {
    "Impressora não imprime": "A impressora do escritório recebe os documentos, mas não imprime nada. "
    "Já desliguei e liguei de novo.",
    "Sem acesso ao e-mail": "Desde hoje de manhã o e-mail pede a senha e não aceita. "
    "Não consigo ler nem enviar mensagens.",
    "Computador lento ao iniciar": "O computador demora mais de dez minutos para ligar e abrir os programas.",
    "Wi-Fi caindo na recepção": "A internet sem fio da recepção cai várias vezes por hora. "
    "No escritório funciona normalmente.",
    "Instalar certificado digital": "Preciso do certificado digital A1 da empresa instalado neste "
    "computador para emitir notas. O arquivo e a senha estão comigo.",
    "Erro ao abrir o sistema fiscal": "O sistema fiscal mostra uma mensagem de erro ao abrir e fecha "
    "em seguida.",
    "Trocar senha do usuário": "Esqueci a senha do meu usuário do computador. Podem criar uma nova?",
    "Backup não concluído": "O aviso do backup diz que a cópia de ontem à noite não terminou.",
    "Monitor sem imagem": "O monitor liga (a luz acende), mas fica sem imagem.",
    "VPN não conecta": "Em casa a VPN da empresa não conecta: fica em “conectando” e desiste.",
    "Atualização do Windows travada": "O Windows está travado em “Trabalhando nas atualizações” "
    "desde o fim do expediente.",
    "Scanner não aparece na rede": "O scanner da recepção não aparece mais na lista de dispositivos "
    "da rede para digitalizar.",
}


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
    user = find_user(email)
    if user is None:
        user = create_user(
            tenant_id=tenant.id,
            email=email,
            name=name,
            role=role,
            password=password,
            company_id=company_id,
            persona=persona,
        )
        summary.created.append(f"usuário {email}")
    return user


def _ensure_company(tenant, summary, apelido, name, cnpj) -> Company:
    company = db.session.scalar(select(Company).where(Company.apelido == apelido))
    if company is None:
        company = Company(tenant_id=tenant.id, apelido=apelido, name=name, cnpj=cnpj)
        db.session.add(company)
        db.session.flush()
        summary.created.append(f"empresa {apelido}")
    return company


def seed_demo(admin_email: str, admin_password: str, admin_name: str) -> DemoSummary:
    tenant = _ensure_tenant()
    with tenancy.scope(tenant.id):
        return _seed_demo_tenant(tenant, admin_email, admin_password, admin_name)


def _seed_demo_tenant(tenant: Tenant, admin_email: str, admin_password: str, admin_name: str) -> DemoSummary:
    summary = DemoSummary()
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

    existing = db.session.scalar(select(func.count()).select_from(Ticket))
    if not existing:
        _seed_tickets(tenant, queues, [*staff[1:], admin], collaborators)
        summary.created.append(f"{DEMO_TICKET_COUNT} chamados")
    summary.created.extend(_seed_devices(tenant))
    summary.created.extend(_seed_chat(staff[1]))
    return summary


DEMO_CHAT_SUBJECT = "Computador do caixa reinicia sozinho"


def _seed_chat(agent) -> list[str]:
    """A ticket opened from the first demo computer (as its person does in the device-session
    portal) with a live chat, so the portal shows "Falar com o suporte". The computer stops
    reporting, so the workers' chat_cleanup ends it after 5 minutes, as it would any chat."""
    hostname = DEMO_DEVICES[0][2]
    machine = db.session.scalar(select(Machine).where(Machine.hostname == hostname))
    if machine is None or machine.assigned_user is None:
        return []
    if db.session.scalar(select(Ticket.id).where(Ticket.machine_id == machine.id).limit(1)):
        return []  # seeded already
    person = machine.assigned_user
    viewer = PortalViewer(person, Persona(machine.persona), machine)
    ticket = open_ticket(viewer, DEMO_CHAT_SUBJECT, f"<p>{DEMO_CHAT_SUBJECT} desde ontem.</p>")
    start_session(agent, ticket)
    post_message(ticket, author=agent, from_device=False, body=DEMO_CHAT_QUESTION)
    post_message(ticket, author=None, from_device=True, body=DEMO_CHAT_ANSWER)
    db.session.execute(delete(EmailMessage).where(EmailMessage.ticket_id == ticket.id))  # made-up people
    db.session.flush()
    return [f"chat ao vivo no chamado #{ticket.reference} ({hostname})"]


DEMO_CHAT_QUESTION = (
    "Olá! Vi seu chamado. O computador reinicia mesmo parado ou só quando abre o sistema do caixa?"
)
DEMO_CHAT_ANSWER = "Só quando abro o sistema do caixa. Acabou de acontecer de novo."


# One computer per demo company, registered and reporting like a real agent.
DEMO_DEVICES = (
    ("paoquente", "joao.silva@paoquente.com.br", "caixa-01", "PQ-0001", "AA-BB-CC-00-00-01"),
    ("contabil-lima", "paulo.lima@contabillima.com.br", "contabil-02", "CL-0002", "AA-BB-CC-00-00-02"),
    ("clinica-sorriso", "recepcao@clinicasorriso.com.br", "recepcao-01", "CS-0003", "AA-BB-CC-00-00-03"),
)


def _seed_devices(tenant) -> list[str]:
    """Register the demo computers through the agent's own services (registration, then a
    heartbeat with inventory and metrics). Needs the provisioning secret, as a real agent does."""
    secret = current_app.config.get("MACHINE_PROVISIONING_SECRET")
    if not secret:
        return []
    created = []
    for apelido, email, hostname, serial, mac in DEMO_DEVICES:
        company = db.session.scalar(select(Company).where(Company.apelido == apelido))
        known = db.session.scalar(
            select(func.count()).select_from(Machine).where(Machine.hostname == hostname)
        )
        if company is None or known:
            continue
        registration = register(
            secret=secret,
            company_code=company.provisioning_code,
            email=email,
            hostname=hostname,
            os=DEMO_OS,
            mac_addresses=[mac],
            serial_numbers=[serial],
        )
        context = authenticate_token(registration.token)
        inventory = _demo_inventory(hostname, serial, mac)
        parts = {name: orjson.dumps(part) for name, part in inventory.items()}
        record_heartbeat(context, DEMO_METRICS, SentInventory(parts), [])
        created.append(f"dispositivo {hostname}")
    return created


DEMO_OS = {"name": "Windows 11 Pro", "version": "11", "build": "26100", "arch": "x86_64"}
DEMO_METRICS = {
    "cpuPercent": 12.5,
    "memoryPercent": 48.0,
    "uptimeSeconds": 7200,
    # The inventory's disk (98 of 256 GB free), as a heartbeat measures it.
    "disks": [{"mount": "C:", "freePercent": 38.3, "freeBytes": 98_000_000_000}],
}


def _demo_inventory(hostname: str, serial: str, mac: str) -> dict:
    return {
        "hardware": {
            "manufacturer": "Dell Inc.",
            "model": "OptiPlex 7090",
            "cpu": "Intel Core i5-10500",
            "cores": 6,
            "memoryBytes": 17_179_869_184,
            "serial": serial,
        },
        "os": DEMO_OS,
        "disks": [{"mount": "C:", "fs": "NTFS", "totalBytes": 256_000_000_000, "freeBytes": 98_000_000_000}],
        "network": [{"name": "Ethernet", "mac": mac, "ipv4": ["192.168.0.10"]}],
        "software": [
            {"name": "Google Chrome", "version": "131.0", "publisher": "Google LLC"},
            {"name": "LibreOffice", "version": "24.8", "publisher": "The Document Foundation"},
            {"name": "AnyDesk", "version": "9.0", "publisher": "AnyDesk Software GmbH"},
        ],
    }


# How far apart the demo spaces the steps of a ticket's history (assigned, started, replied...).
DEMO_STEP = timedelta(minutes=25)
DEMO_REPLY = "<p>Olá! Já estou verificando o seu chamado.</p>"
DEMO_PAUSE_REASON = "Aguardando retorno do cliente"
DEMO_CLOSING = "<p>Resolvido. Qualquer coisa, é só responder por aqui.</p>"


def _seed_tickets(tenant, queues, agents, collaborators) -> None:
    """Tickets in every status, spread over the last 30 days, some unassigned.

    Every step goes through the same services as real use (so the stored events have the
    shapes the pages read); only their times are moved back afterwards."""
    rng = random.Random(42)  # the same demo on every machine
    statuses = list(TicketStatus)
    now = utcnow()
    seeding_started = now
    for index in range(DEMO_TICKET_COUNT):
        requester = rng.choice(collaborators)
        status = statuses[index % len(statuses)]
        created = now - timedelta(days=rng.uniform(0, 30), minutes=rng.randint(0, 600))
        subject = rng.choice(list(SUBJECTS))
        ticket = create_ticket(
            tenant_id=tenant.id,
            requester=requester,
            subject=subject,
            description_html=f"<p>{SUBJECTS[subject]}</p>",
            queue_id=rng.choice(queues).id if index % 3 else None,
            priority=rng.choice(list(TicketPriority)),
        )
        if not (status is TicketStatus.PENDING and (index // len(statuses)) % 2):
            # The others stay unassigned and untouched: what the Painel puts first.
            _work_ticket(ticket, status, rng.choice(agents))
        _backdate(ticket, created, now)
        db.session.flush()
    # The demo's people are made up: nothing it did is e-mailed to them.
    db.session.execute(delete(EmailMessage).where(EmailMessage.created_at >= seeding_started))


def _work_ticket(ticket, status, agent) -> None:
    """Take the ticket to `status` the way an agent would."""
    assign(ticket, agent.id, agent)
    if status is TicketStatus.PENDING:
        add_comment(ticket, agent, DEMO_REPLY)
        return
    change_status(ticket, "iniciar", agent)
    add_comment(ticket, agent, DEMO_REPLY)
    if status is TicketStatus.PAUSED:
        change_status(ticket, "pausar", agent, reason=DEMO_PAUSE_REASON)
    elif status is TicketStatus.RESOLVED:
        change_status(ticket, "encerrar", agent, message_html=DEMO_CLOSING)


def _backdate(ticket, created, now) -> None:
    """Move the ticket's history so it starts at `created`, one DEMO_STEP between steps.

    The services stamped everything with the real time a few milliseconds apart; each stored
    time is mapped onto the step that wrote it, so the ticket's own fields (first response,
    in progress since, resolved) keep agreeing with its timeline."""
    rows = [
        *db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)),
        *db.session.scalars(select(Comment).where(Comment.ticket_id == ticket.id)),
    ]
    rows.sort(key=lambda row: (row.created_at, isinstance(row, Comment), row.id))
    moved: dict = {}
    for step, row in enumerate(rows):
        moved.setdefault(row.created_at, min(created + step * DEMO_STEP, now))
        row.created_at = moved[row.created_at]

    def shifted(value):
        if value is None:
            return None
        later = [original for original in moved if original >= value]
        return moved[min(later)] if later else max(moved.values())

    ticket.first_response_at = shifted(ticket.first_response_at)
    ticket.in_progress_since = shifted(ticket.in_progress_since)
    ticket.resolved_at = shifted(ticket.resolved_at)
    if ticket.worked_seconds:
        ticket.worked_seconds = int(2 * DEMO_STEP.total_seconds())  # started, replied, then paused/closed
    ticket.created_at = created
    ticket.updated_at = max(moved.values())
