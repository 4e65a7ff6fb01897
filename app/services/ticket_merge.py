"""Merging a duplicate ticket into the one that stays (#23).

Everything the duplicate holds moves to the survivor in one transaction, keeping its times:
comments, attachments (of the ticket, its comments and its chat), timeline events (marked
with where they came from), chat sessions and messages, and the device alerts pointing at
it. The duplicate is then resolved through `change_status` with a public note linking the
survivor, each timeline gets a MERGED_INTO / MERGED_FROM event (so both tickets' open
screens hear of it through the change feed), and the merge is audited.

Rules (`validate`):
- a ticket is never merged into itself, nor into a resolved one; a resolved ticket is not
  merged either (reopen it first): its conversation is over, and it would not be resolved
  again with the note;
- both are of the same tenant (the tenant gate already hides any other) and the same
  company; two tickets without a company only when they have the same requester, since the
  survivor's requester then sees every public comment that moved;
- no live chat is active on either: chat messages are numbered per ticket
  (`chat_messages.seq`, handed out from `live_chat_sessions.last_seq`), and the moved ones
  are renumbered after the survivor's, which only works while nobody is posting on them.

What stays: the duplicate's description and worked time (it still exists, resolved, and the
MERGED_FROM line links to it) and the e-mails already sent about it. The survivor's first
response becomes the earlier of the two (its comments now include the duplicate's).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import escape
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (
    Attachment,
    ChatMessage,
    ChatSessionStatus,
    Comment,
    EmailMessage,
    LiveChatSession,
    MachineAlert,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
)
from app.models.types import utcnow
from app.services import audit
from app.services.errors import Conflict, PermissionDenied, ValidationError
from app.services.permissions import can
from app.services.tickets import change_status, record_event

# (model, what a person reads in the preview). Every foreign key to tickets.id is here or in
# NOT_MOVED: tests/test_services_ticket_merge.py checks that against the schema.
MOVED = (
    (Comment, "Comentários"),
    (Attachment, "Anexos"),
    (TicketEvent, "Eventos da linha do tempo"),
    (LiveChatSession, "Sessões de chat"),
    (ChatMessage, "Mensagens de chat"),
    (MachineAlert, "Alertas de dispositivo"),
)
# E-mails already sent stay about the ticket they spoke of.
NOT_MOVED = {EmailMessage}

MERGE_EVENTS = ("MERGED_INTO", "MERGED_FROM")


@dataclass
class TicketMergePreview:
    source: Ticket  # the duplicate: resolved, pointing at the survivor
    target: Ticket  # the survivor: gets everything
    counts: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)


def validate_source(source: Ticket, actor: User) -> None:
    """What the duplicate itself must be, before a survivor is even chosen."""
    if not can(actor, "tickets.merge", source):
        raise PermissionDenied("Apenas a equipe de suporte mescla chamados.")
    if source.status == TicketStatus.RESOLVED:
        raise Conflict(
            f"O chamado #{source.reference} já está resolvido: reabra-o antes de mesclá-lo.",
            code="merge_resolved_source",
        )


def validate(source: Ticket, target: Ticket, actor: User) -> None:
    validate_source(source, actor)
    if not can(actor, "tickets.merge", target):
        raise PermissionDenied("Apenas a equipe de suporte mescla chamados.")
    if source.id == target.id:
        raise ValidationError("Um chamado não pode ser mesclado nele mesmo: escolha outro.", field="destino")
    if source.tenant_id != target.tenant_id:
        raise ValidationError("Os chamados são de organizações diferentes.", field="destino")
    if target.status == TicketStatus.RESOLVED:
        raise Conflict(
            f"O chamado #{target.reference} está resolvido: escolha um chamado aberto (ou reabra-o antes).",
            code="merge_resolved_target",
        )
    if source.company_id != target.company_id:
        raise ValidationError(
            f"Os chamados #{source.reference} e #{target.reference} são de empresas diferentes: "
            "só chamados da mesma empresa podem ser mesclados.",
            field="destino",
        )
    if source.company_id is None and source.requester_id != target.requester_id:
        raise ValidationError(
            "Chamados sem empresa só podem ser mesclados quando têm o mesmo solicitante.", field="destino"
        )
    for ticket in (source, target):
        if _active_chat(ticket):
            raise Conflict(
                f"Encerre o chat ao vivo do chamado #{ticket.reference} antes de mesclar.",
                code="merge_active_chat",
            )


def _active_chat(ticket: Ticket) -> bool:
    return (
        db.session.scalar(
            select(LiveChatSession.id)
            .where(LiveChatSession.ticket_id == ticket.id, LiveChatSession.status == ChatSessionStatus.ACTIVE)
            .limit(1)
        )
        is not None
    )


def preview(source: Ticket, target: Ticket, actor: User) -> TicketMergePreview:
    """What would move, after the rules; changes nothing."""
    validate(source, target, actor)
    counts = [
        (
            label,
            db.session.scalar(select(func.count()).select_from(model).where(model.ticket_id == source.id)),
        )
        for model, label in MOVED
    ]
    return TicketMergePreview(source, target, counts)


def merge(source: Ticket, target: Ticket, actor: User) -> TicketMergePreview:
    """Move everything from `source` to `target` and resolve `source`. All or nothing."""
    summary = preview(source, target, actor)
    now = utcnow()
    _move_chat(source, target)
    for model in (Comment, Attachment, MachineAlert):
        _move(model, source, target)
    _move_events(source, target)
    target.chat_enabled = bool(target.chat_enabled or source.chat_enabled)
    target.first_response_at = min(
        (at for at in (target.first_response_at, source.first_response_at) if at is not None),
        default=None,
    )
    target.updated_at = now
    change_status(source, "encerrar", actor, message_html=_note(target))
    record_event(source, "MERGED_INTO", actor, to_reference=target.reference, to_subject=target.subject)
    record_event(
        target,
        "MERGED_FROM",
        actor,
        from_reference=source.reference,
        from_subject=source.subject,
        moved={label: count for label, count in summary.counts if count},
    )
    audit.record(
        "chamado.mesclar",
        actor=actor,
        target=target,
        target_type="chamado",
        target_label=f"#{source.reference} → #{target.reference}",
        changes={"mesclado": [f"#{source.reference}", f"#{target.reference}"]}
        | {label: [0, count] for label, count in summary.counts if count},
    )
    db.session.flush()
    db.session.refresh(source)
    db.session.refresh(target)
    return summary


def _note(target: Ticket) -> str:
    """The duplicate's closing note. The link is relative ("1234"), so it opens the survivor
    from the staff page (/chamados/…) and from the portal (/portal/chamados/…) alike."""
    return (
        f'<p>Este chamado foi mesclado ao chamado <a href="{target.reference}">#{target.reference}</a> '
        f"({escape(target.subject)}), onde o atendimento continua.</p>"
    )


def _move(model, source: Ticket, target: Ticket) -> None:
    db.session.execute(
        update(model)
        .where(model.ticket_id == source.id)
        .values(ticket_id=target.id)
        .execution_options(synchronize_session=False)
    )


def _move_events(source: Ticket, target: Ticket) -> None:
    """Events keep their time and say which ticket they happened on ("(no chamado #12)")."""
    for event in db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == source.id)):
        payload = event.payload if isinstance(event.payload, dict) else {}
        event.ticket_id = target.id
        event.payload = {**payload, "merged_from": source.reference}  # a new dict: SQLAlchemy sees it
    db.session.flush()


def _move_chat(source: Ticket, target: Ticket) -> None:
    """Chat messages are numbered per ticket: the moved ones go after the survivor's last
    number, and their sessions' counters with them, so the next message on the survivor
    (numbered from the highest seq) follows both histories."""
    offset = max(
        db.session.scalar(select(func.max(ChatMessage.seq)).where(ChatMessage.ticket_id == target.id)) or 0,
        db.session.scalar(
            select(func.max(LiveChatSession.last_seq)).where(LiveChatSession.ticket_id == target.id)
        )
        or 0,
    )
    # One statement: each moved row lands above every number either ticket uses, so the
    # unique (ticket_id, seq) never sees two rows at once.
    db.session.execute(
        update(ChatMessage)
        .where(ChatMessage.ticket_id == source.id)
        .values(ticket_id=target.id, seq=ChatMessage.seq + offset)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(LiveChatSession)
        .where(LiveChatSession.ticket_id == source.id)
        .values(ticket_id=target.id, last_seq=LiveChatSession.last_seq + offset)
        .execution_options(synchronize_session=False)
    )


def merged_into(ticket: Ticket) -> int | None:
    """The number of the ticket this one was merged into, if it was (its latest merge; an
    event that moved here from another ticket's merge is that ticket's, not this one's)."""
    payloads = db.session.scalars(
        select(TicketEvent.payload)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.type == "MERGED_INTO")
        .order_by(TicketEvent.created_at.desc(), TicketEvent.id.desc())
        .limit(20)
    )
    for payload in payloads:
        if isinstance(payload, dict) and "merged_from" not in payload:
            reference = payload.get("to_reference")
            return reference if isinstance(reference, int) else None
    return None
