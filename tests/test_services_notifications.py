"""E-mail notifications against a real SMTP peer (aiosmtpd on a local port)."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.extensions import db
from app.models import EmailMessage, EmailStatus, JobRun, JobRunStatus, MachineAlert, MachinePresence
from app.models.types import utcnow
from app.services import notifications
from app.services.tickets import add_comment, assign, change_status
from tests.conftest import free_port, make_user


class Inbox:
    """What the SMTP peer received, parsed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, parsed))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for rcpt, m in self.messages if address in rcpt]


class SmtpPeer(Inbox):
    """A real SMTP server on a local port that a test can take down and bring back."""

    def __init__(self, port: int):
        super().__init__()
        self.port = port
        self.controller = None

    def start(self):
        # aiosmtpd's controller cannot restart: "bringing it back" is a new one on the same port.
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(app):
    peer = SmtpPeer(free_port())
    peer.start()
    saved = {k: app.config[k] for k in ("SMTP_ADDRESS", "SMTP_PORT", "PUBLIC_BASE_URL")}
    app.config.update(SMTP_ADDRESS="127.0.0.1", SMTP_PORT=peer.port, PUBLIC_BASE_URL="https://chamados.test")
    yield peer
    app.config.update(saved)
    peer.stop()


def deliver() -> notifications.SendResult:
    return notifications.send_due(now=utcnow() + timedelta(seconds=1))


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_requester_hears_opened_reply_resolved_and_reopened(
    smtp, make_ticket, collaborator, agent_user, admin_user
):
    ticket = make_ticket("Impressora parada")
    assign(ticket, agent_user.id, admin_user)
    add_comment(ticket, agent_user, "<p>Já estou verificando.</p>")
    change_status(ticket, "encerrar", agent_user, message_html="<p>Toner trocado.</p>")
    change_status(ticket, "reabrir", collaborator)
    deliver()

    subjects = [m["Subject"] for m in smtp.to(collaborator.email)]
    ref = ticket.reference
    assert subjects == [
        f"Chamado #{ref} aberto: Impressora parada",
        f"Nova resposta no chamado #{ref}: Impressora parada",
        f"Chamado #{ref} resolvido: Impressora parada",
    ]  # reopened by the requester themself: not told about their own action
    opened, reply, resolved = smtp.to(collaborator.email)
    assert f"https://chamados.test/portal/chamados/{ref}" in text_of(opened)
    assert f'href="https://chamados.test/portal/chamados/{ref}"' in html_of(opened)
    assert "Já estou verificando." in text_of(reply)
    assert "Toner trocado." in text_of(resolved)


def test_reopened_by_staff_tells_the_requester(smtp, make_ticket, collaborator, agent_user, admin_user):
    ticket = make_ticket()
    assign(ticket, agent_user.id, admin_user)
    change_status(ticket, "encerrar", agent_user, message_html="<p>Feito.</p>")
    change_status(ticket, "reabrir", agent_user)
    deliver()
    assert f"Chamado #{ticket.reference} reaberto" in smtp.to(collaborator.email)[-1]["Subject"]


def test_internal_content_never_reaches_the_requester(
    smtp, make_ticket, collaborator, agent_user, admin_user
):
    ticket = make_ticket()
    assign(ticket, agent_user.id, admin_user)
    add_comment(ticket, admin_user, "<p>Senha do roteador: segredo123</p>", visibility="INTERNAL")
    deliver()
    to_requester = " ".join(text_of(m) + html_of(m) for m in smtp.to(collaborator.email))
    assert "segredo123" not in to_requester
    (internal,) = [m for m in smtp.to(agent_user.email) if "Comentário interno" in m["Subject"]]
    assert "segredo123" in text_of(internal)
    assert f"https://chamados.test/chamados/{ticket.reference}" in text_of(internal)


def test_assignee_hears_assignment_but_not_their_own_actions(smtp, make_ticket, agent_user, admin_user):
    ticket = make_ticket()
    assign(ticket, agent_user.id, admin_user)
    other = make_ticket("Outro")
    assign(other, agent_user.id, agent_user)  # took it themself
    deliver()
    subjects = [m["Subject"] for m in smtp.to(agent_user.email)]
    assert subjects == [f"Chamado #{ticket.reference} atribuído a você: Chamado de teste"]
    assert admin_user.name in text_of(smtp.to(agent_user.email)[0])


def test_alert_tickets_reach_the_admins(smtp, app, register_device, admin_user, client):
    _, auth = register_device()
    client.post(
        "/api/machines/heartbeat",
        json={"metrics": {"cpuPercent": 99}, "alerts": [{"kind": "cpu_high", "severity": "critical"}]},
        headers=auth,
    )
    deliver()
    (alert,) = smtp.to(admin_user.email)
    assert (
        alert["Subject"].startswith("Alerta de dispositivo: chamado #") and "recepcao-01" in alert["Subject"]
    )


def test_opt_out_is_respected(smtp, make_ticket, collaborator):
    kinds = [kind for kind, _ in notifications.kinds_for(collaborator)]
    assert "ticket_assigned" not in kinds  # collaborators only see the requester switches
    notifications.set_preferences(collaborator, [k for k in kinds if k != "ticket_opened"])
    make_ticket()
    deliver()
    assert smtp.to(collaborator.email) == []


def test_smtp_down_is_retried_visible_and_the_ticket_change_kept(smtp, app, make_ticket, collaborator):
    from app.jobs.runner import run_with_retries

    smtp.stop()
    ticket = make_ticket("Sem e-mail por enquanto")
    run_with_retries("email_sender", "test", sleep=lambda _s: None)
    message = db.session.scalar(select(EmailMessage))
    # Deferred with backoff (next try in a minute), not lost; the run failed, so Tarefas shows it.
    assert (message.status, message.attempts) == (EmailStatus.PENDING, 1)
    assert "ConnectionRefusedError" in message.last_error and message.next_attempt_at > utcnow()
    failed = db.session.scalars(
        select(JobRun).where(JobRun.job == "email_sender", JobRun.status == JobRunStatus.FAILED)
    ).all()
    assert len(failed) == 1 and "adiados 1" in failed[0].error
    assert (
        ticket.id is not None and db.session.get(type(ticket), ticket.id).subject == "Sem e-mail por enquanto"
    )

    smtp.start()
    notifications.send_due(now=utcnow() + timedelta(hours=2))
    db.session.refresh(message)
    assert message.status == EmailStatus.SENT
    assert len(smtp.to(collaborator.email)) == 1


def test_a_message_that_keeps_failing_ends_failed(smtp, make_ticket):
    smtp.stop()
    make_ticket()
    later = utcnow()
    for _ in range(notifications.MAX_ATTEMPTS):
        later += timedelta(hours=2)
        notifications.send_due(now=later)
    message = db.session.scalar(select(EmailMessage))
    assert (message.status, message.attempts) == (EmailStatus.FAILED, notifications.MAX_ATTEMPTS)
    assert notifications.outbox_summary()["failed"] == 1


def test_without_smtp_messages_are_logged(app, make_ticket, collaborator, caplog):
    assert app.config["SMTP_ADDRESS"] is None
    make_ticket("Só no log")
    with caplog.at_level(logging.INFO, logger="app.services.mailer"):
        result = deliver()
    assert result.sent == 1
    assert f"to={collaborator.email}" in caplog.text and "Só no log" in caplog.text


def test_the_daily_digest_goes_to_admins_once_at_the_local_hour(
    smtp, app, tenant, admin_user, make_machine, make_ticket
):
    machine = make_machine("pc-sumido")
    now = utcnow()
    db.session.add_all(
        [
            MachinePresence(machine_id=machine.id, last_seen_at=now - timedelta(days=3)),
            MachineAlert(tenant_id=tenant.id, machine_id=machine.id, kind="smart_failing"),
        ]
    )
    old = make_ticket("Esperando há dois dias")
    old.created_at = now - timedelta(days=2)
    db.session.commit()
    tenant.timezone = "America/Sao_Paulo"
    db.session.commit()
    hour = app.config["ALERTS_LOCAL_HOUR"]
    # 08:00 in São Paulo is 11:00 UTC.
    at_hour = now.replace(hour=(hour + 3) % 24, minute=5, second=0, microsecond=0)
    assert notifications.queue_daily_digests(at_hour - timedelta(hours=1)).changed == 0
    assert notifications.queue_daily_digests(at_hour).changed == 1
    assert notifications.queue_daily_digests(at_hour + timedelta(minutes=20)).changed == 0  # once a day
    notifications.send_due(now=at_hour + timedelta(minutes=30))
    (digest,) = [m for m in smtp.to(admin_user.email) if m["Subject"].startswith("Resumo diário")]
    body = text_of(digest)
    assert "smart_failing" in body and "pc-sumido" in body and "Esperando há dois dias" in body


def test_minha_conta_saves_the_switches(client, collaborator):
    from tests.conftest import csrf_token_from, login

    login(client, collaborator)
    page = client.get("/minha-conta").get_data(as_text=True)
    assert "Chamado aberto (com o número)" in page and "Chamado atribuído a mim" not in page
    token = csrf_token_from(client, "/minha-conta")
    saved = client.post("/minha-conta/emails", data={"kinds": ["public_reply"], "csrf_token": token})
    assert saved.status_code == 302
    db.session.refresh(collaborator)
    assert not notifications.is_enabled(collaborator, "ticket_opened")
    assert notifications.is_enabled(collaborator, "public_reply")


def test_inactive_people_get_nothing(smtp, tenant, company, make_ticket):
    gone = make_user(tenant, email="saiu@paoquente.test", company=company, active=False)
    make_ticket(requester=gone)
    deliver()
    assert smtp.messages == []


def test_assignee_hears_the_requesters_public_comment(
    smtp, make_ticket, collaborator, agent_user, admin_user
):
    ticket = make_ticket()
    assign(ticket, agent_user.id, admin_user)
    add_comment(ticket, collaborator, "<p>Voltou a falhar hoje.</p>")
    deliver()
    (comment,) = [m for m in smtp.to(agent_user.email) if m["Subject"].startswith("Comentário no chamado")]
    assert "Voltou a falhar hoje." in text_of(comment)
    # and the requester is not e-mailed about their own comment
    assert not [m for m in smtp.to(collaborator.email) if "Nova resposta" in m["Subject"]]


def test_the_health_page_says_when_mail_only_goes_to_the_log(admin_client, app):
    assert app.config["SMTP_ADDRESS"] is None
    page = admin_client.get("/admin/saude").get_data(as_text=True)
    assert "Sem SMTP configurado:" in page and "registrados no log" in page
