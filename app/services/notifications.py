"""E-mail notifications: who is told what, in which words, and the outbox that delivers them.

`notify_*` functions are called by the ticket rules (services.tickets) inside the
change's own transaction: they only add `EmailMessage` rows. The `email_sender`
job delivers due rows (services.mailer), retrying with backoff; a message that
keeps failing ends FAILED and the job run is marked failed, so Tarefas shows it.
Nothing internal is ever put in a message to a collaborator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Comment,
    CommentVisibility,
    EmailMessage,
    EmailStatus,
    Machine,
    MachineAlert,
    MachinePresence,
    Role,
    Tenant,
    Ticket,
    TicketStatus,
    User,
)
from app.models.types import utcnow
from app.services import mailer, tenancy
from app.services.html import html_to_text
from app.services.job_runs import JobOutcome
from app.services.permissions import is_admin

# kind: (who gets it, what "Minha conta" calls it)
KINDS = {
    "ticket_opened": ("solicitante", "Chamado aberto (com o número)"),
    "public_reply": ("solicitante", "Nova resposta da equipe no meu chamado"),
    "ticket_resolved": ("solicitante", "Chamado resolvido (com a mensagem de encerramento)"),
    "ticket_reopened": ("solicitante", "Chamado reaberto"),
    "ticket_assigned": ("responsável", "Chamado atribuído a mim"),
    "comment_on_assigned": ("responsável", "Novo comentário (público ou interno) em chamado meu"),
    "alert_ticket": ("responsável", "Chamado de alerta de dispositivo criado"),
    "daily_digest": ("administrador", "Resumo diário de alertas e pendências"),
}
# Account e-mails: sent whatever the switches of Minha conta say (they are not in KINDS).
ACCOUNT_KINDS = frozenset({"password_reset", "password_changed"})
# Their link is a secret (the reset token): once the message is sent, or has failed for good,
# the outbox keeps only this in its place.
SECRET_LINK_KINDS = frozenset({"password_reset"})
LINK_REMOVED = "(link de redefinição de senha removido do registro após o envio)"
SEND_BATCH = 100
MAX_ATTEMPTS = 5
BACKOFF_MINUTES = (1, 5, 15, 60)  # before attempts 2, 3, 4 and 5


class EmailDeliveryError(RuntimeError):
    """Raised by the sender job after it saved every message's state, so the run shows as failed."""


# --- preferences ("Minha conta") -------------------------------------------------------


def kinds_for(user: User) -> list[tuple[str, str]]:
    """The switches a person sees: requester kinds for everyone, the rest for staff / admins."""
    audience = {"solicitante"}
    if user.is_staff:
        audience.add("responsável")
    if is_admin(user):
        audience.add("administrador")
    return [(kind, label) for kind, (who, label) in KINDS.items() if who in audience]


def is_enabled(user: User, kind: str) -> bool:
    return kind not in set((user.preferences or {}).get("email_off") or [])


def set_preferences(user: User, enabled_kinds: Iterable[str]) -> bool:
    """Save which e-mails the person wants; writes nothing when nothing changed."""
    offered = {kind for kind, _ in kinds_for(user)}
    off = sorted(offered - set(enabled_kinds))
    preferences = dict(user.preferences or {})
    if preferences.get("email_off", []) == off:
        return False
    preferences["email_off"] = off
    user.preferences = preferences
    db.session.flush()
    return True


# --- composing ---------------------------------------------------------------------------


def ticket_link(ticket: Ticket, user: User) -> str:
    base = current_app.config["PUBLIC_BASE_URL"]
    path = f"/chamados/{ticket.reference}" if user.is_staff else f"/portal/chamados/{ticket.reference}"
    return base + path


def _queue(
    kind: str,
    user: User | None,
    actor: User | None,
    ticket: Ticket | None,
    queued_at: datetime | None = None,
    **context,
) -> bool:
    """Add one message to the outbox (no commit: it belongs to the caller's transaction).
    `queued_at`: the time a job runs as (its `now`), which is also when the message falls due."""
    if user is None or not user.is_active or not user.email:
        return False
    if kind not in ACCOUNT_KINDS and not is_enabled(user, kind):
        return False
    if actor is not None and actor.id == user.id:
        return False  # nobody is told about what they just did themselves
    context.update(
        user=user,
        ticket=ticket,
        link=ticket_link(ticket, user) if ticket is not None else current_app.config["PUBLIC_BASE_URL"],
        is_staff=user.is_staff,
        html_to_text=html_to_text,
    )
    subject = render_template(f"emails/{kind}.subject.txt", **context).strip()
    db.session.add(
        EmailMessage(
            tenant_id=user.tenant_id,
            kind=kind,
            recipient_id=user.id,
            to_address=user.email,
            subject=" ".join(subject.split())[:255],
            body_text=render_template(f"emails/{kind}.txt", **context),
            body_html=render_template(f"emails/{kind}.html", **context),
            ticket_id=ticket.id if ticket is not None else None,
            created_at=queued_at or utcnow(),
            next_attempt_at=queued_at or utcnow(),
        )
    )
    return True


def notify_password_reset(user: User, link: str, valid_minutes: int) -> bool:
    """The "Esqueci a senha" link (the only copy of the token besides its hash)."""
    return _queue("password_reset", user, None, None, reset_link=link, valid_minutes=valid_minutes)


def notify_password_changed(user: User, how: str) -> bool:
    """Tell the person their password changed, so a change they did not make does not go unseen."""
    return _queue("password_changed", user, None, None, how=how)


def notify_ticket_opened(ticket: Ticket) -> None:
    # The requester is told even when they opened it themselves: the e-mail carries the reference.
    _queue("ticket_opened", ticket.requester, None, ticket)


def notify_alert_ticket(ticket: Ticket, machine: Machine) -> None:
    """A posture alert opened a ticket: its assignee, else the tenant's admins."""
    recipients = [ticket.assignee] if ticket.assignee_id else _admins()
    for user in recipients:
        _queue("alert_ticket", user, None, ticket, machine=machine)


def notify_comment(ticket: Ticket, comment: Comment, author: User) -> None:
    public = comment.visibility == CommentVisibility.PUBLIC
    if public and author.id != ticket.requester_id:
        _queue("public_reply", ticket.requester, author, ticket, comment=comment, author=author)
    if ticket.assignee_id:
        _queue(
            "comment_on_assigned",
            ticket.assignee,
            author,
            ticket,
            comment=comment,
            author=author,
            public=public,
        )


def notify_status(
    ticket: Ticket, before: TicketStatus, after: TicketStatus, actor: User | None, message_html: str = ""
) -> None:
    if after == TicketStatus.RESOLVED and before != TicketStatus.RESOLVED:
        _queue("ticket_resolved", ticket.requester, actor, ticket, message=html_to_text(message_html))
    elif before == TicketStatus.RESOLVED and after != TicketStatus.RESOLVED:
        _queue("ticket_reopened", ticket.requester, actor, ticket)


def notify_assigned(ticket: Ticket, assignee: User | None, actor: User | None) -> None:
    if assignee is not None:
        _queue("ticket_assigned", assignee, actor, ticket, assigned_by=actor)


def _admins() -> list[User]:
    """The current tenant's active admins."""
    return list(db.session.scalars(select(User).where(User.role == Role.ADMIN, User.is_active.is_(True))))


# --- delivering --------------------------------------------------------------------------


@dataclass
class SendResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    has_more: bool = False
    last_error: str = ""

    def outcome(self) -> JobOutcome:
        summary = f"enviados {self.sent}, adiados {self.deferred}, falharam {self.failed}"
        return JobOutcome(changed=self.sent + self.failed, summary=summary, has_more=self.has_more)


def send_due(now: datetime | None = None, batch: int = SEND_BATCH) -> SendResult:
    """Deliver due messages, one commit each: a crash never resends what was already sent."""
    now = now or utcnow()
    result = SendResult()
    ids = db.session.scalars(
        select(EmailMessage.id)
        .where(EmailMessage.status == EmailStatus.PENDING, EmailMessage.next_attempt_at <= now)
        .order_by(EmailMessage.id)
        .limit(batch)
    ).all()
    result.has_more = len(ids) == batch
    for message_id in ids:
        # Claimed one at a time (FOR UPDATE SKIP LOCKED on PostgreSQL): two workers never send twice.
        message = db.session.scalar(
            select(EmailMessage)
            .where(EmailMessage.id == message_id, EmailMessage.status == EmailStatus.PENDING)
            .with_for_update(skip_locked=True)
        )
        if message is None:
            db.session.rollback()
            continue
        try:
            mailer.send(
                mailer.build(message.to_address, message.subject, message.body_text, message.body_html)
            )
        except Exception as error:  # SMTP and network errors alike
            message.attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:2000]
            result.last_error = message.last_error
            if message.attempts >= MAX_ATTEMPTS:
                message.status = EmailStatus.FAILED
                result.failed += 1
            else:
                message.next_attempt_at = now + timedelta(minutes=BACKOFF_MINUTES[message.attempts - 1])
                result.deferred += 1
        else:
            message.attempts += 1
            message.status, message.sent_at, message.last_error = EmailStatus.SENT, utcnow(), None
            result.sent += 1
        if message.status != EmailStatus.PENDING and message.kind in SECRET_LINK_KINDS:
            message.body_text = message.body_html = LINK_REMOVED
        # Committed now, not with the job: a message sent stays recorded as sent (never sent twice).
        db.session.commit()
    return result


def outbox_summary() -> dict:
    """For Saúde: how delivery stands."""
    counts = dict(
        db.session.execute(select(EmailMessage.status, func.count()).group_by(EmailMessage.status)).all()
    )
    return {
        "mode": mailer.mode(),
        "pending": counts.get(EmailStatus.PENDING, 0),
        "failed": counts.get(EmailStatus.FAILED, 0),
        "sent": counts.get(EmailStatus.SENT, 0),
    }


# --- the daily digest ------------------------------------------------------------------------


@dataclass
class Digest:
    alerts: list
    offline: list
    waiting: list

    @property
    def empty(self) -> bool:
        return not (self.alerts or self.offline or self.waiting)


def build_digest(now: datetime, limit: int = 50) -> Digest:
    """The current tenant's open alerts, devices offline for a day and tickets waiting for a
    first response for 24 h."""
    alerts = db.session.execute(
        select(MachineAlert, Machine.label)
        .join(Machine, Machine.id == MachineAlert.machine_id)
        .where(MachineAlert.resolved_at.is_(None))
        .order_by(MachineAlert.opened_at)
        .limit(limit)
    ).all()
    offline = db.session.execute(
        select(Machine.label, MachinePresence.last_seen_at)
        .join(MachinePresence, MachinePresence.machine_id == Machine.id)
        .where(Machine.is_active.is_(True), MachinePresence.last_seen_at < now - timedelta(days=1))
        .order_by(MachinePresence.last_seen_at)
        .limit(limit)
    ).all()
    waiting = db.session.scalars(
        select(Ticket)
        .where(
            Ticket.first_response_at.is_(None),
            Ticket.status != TicketStatus.RESOLVED,
            Ticket.created_at < now - timedelta(hours=24),
        )
        .order_by(Ticket.created_at)
        .limit(limit)
    ).all()
    return Digest(alerts=alerts, offline=offline, waiting=waiting)


def queue_daily_digests(now: datetime | None = None) -> JobOutcome:
    """Run hourly: a tenant whose local hour is ALERTS_LOCAL_HOUR gets its digest, once a day."""
    now = now or utcnow()
    queued = sum(tenancy.for_each_tenant(lambda tenant: _queue_digest(tenant, now)))
    return JobOutcome(changed=queued, summary=f"resumos diários na fila: {queued}")


def _queue_digest(tenant: Tenant, now: datetime) -> int:
    """The digest for the admins of `tenant` (the current scope), if it is due and says something."""
    zone = ZoneInfo(tenant.timezone or current_app.config["DEFAULT_TIMEZONE"])
    local = now.astimezone(zone)
    if local.hour != current_app.config["ALERTS_LOCAL_HOUR"]:
        return 0
    day_start = datetime.combine(local.date(), time.min, zone)
    already = db.session.scalar(
        select(func.count())
        .select_from(EmailMessage)
        .where(EmailMessage.kind == "daily_digest", EmailMessage.created_at >= day_start)
    )
    digest = None if already else build_digest(now)
    if digest is None or digest.empty:
        return 0
    return sum(
        _queue("daily_digest", admin, None, None, queued_at=now, digest=digest, day=local.date(), zone=zone)
        for admin in _admins()
    )
