"""Account merge (seed 000 §9): a duplicate person folded into the account that stays.

Everything that points at the duplicate — tickets (requester, assignee), comments,
timeline events, attachments, chat sessions and messages, device assignment and
links, saved views, exports, USB policy requests, audit references, aliases —
moves to the surviving id in one transaction. The duplicate is deactivated, loses
its password, and its e-mail is kept as an alias that signs in to the survivor.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select, update

from app.extensions import db
from app.models import (
    Attachment,
    AuditLog,
    ChatMessage,
    Comment,
    EmailMessage,
    LiveChatSession,
    Machine,
    MachineLink,
    PasswordResetToken,
    RecoveryCode,
    ReportExport,
    SavedView,
    Ticket,
    TicketEvent,
    UsbPolicy,
    User,
    UserAlias,
)
from app.services import audit
from app.services.errors import ValidationError

# (model, column, what a person reads in the preview). Every foreign key to users.id is here:
# tests/test_services_merge.py checks that against the schema, so a new one cannot be forgotten.
REFERENCES = (
    (Ticket, "requester_id", "Chamados abertos (solicitante)"),
    (Ticket, "assignee_id", "Chamados atribuídos (responsável)"),
    (Comment, "author_id", "Comentários"),
    (TicketEvent, "actor_id", "Eventos da linha do tempo"),
    (Attachment, "uploaded_by_id", "Anexos enviados"),
    (LiveChatSession, "agent_id", "Sessões de chat"),
    (ChatMessage, "author_id", "Mensagens de chat"),
    (Machine, "assigned_user_id", "Dispositivos (usuário vinculado)"),
    (MachineLink, "user_id", "Dispositivos (usuários vinculados)"),
    (SavedView, "user_id", "Visões salvas"),
    (ReportExport, "requested_by_id", "Exportações de relatórios"),
    (UsbPolicy, "requested_by_id", "Políticas USB solicitadas"),
    (AuditLog, "actor_id", "Registros de auditoria (como responsável)"),
    (UserAlias, "user_id", "E-mails antigos (apelidos)"),
    (EmailMessage, "recipient_id", "E-mails enviados"),
)
# Kept as they are: the alias remembers which account was merged away.
NOT_MOVED = {(UserAlias, "merged_user_id")}
# The duplicate's own credentials: deleted with its password, never handed to the survivor.
DELETED = {(PasswordResetToken, "user_id"), (RecoveryCode, "user_id")}


@dataclass
class MergePreview:
    duplicate: User
    survivor: User
    counts: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)


def _validate(duplicate: User, survivor: User) -> None:
    if duplicate.tenant_id != survivor.tenant_id:
        raise ValidationError("As contas são de organizações diferentes.", field="survivor")
    if duplicate.id == survivor.id:
        raise ValidationError(
            "Escolha outra conta: uma conta não pode ser mesclada nela mesma.", field="survivor"
        )
    if not survivor.is_active:
        raise ValidationError("A conta que fica precisa estar ativa.", field="survivor")


def preview(duplicate: User, survivor: User) -> MergePreview:
    _validate(duplicate, survivor)
    counts = []
    for model, column, label in REFERENCES:
        count = db.session.scalar(
            select(func.count()).select_from(model).where(getattr(model, column) == duplicate.id)
        )
        counts.append((label, count))
    audit_targets = db.session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.target_type == "usuário", AuditLog.target_id == duplicate.id)
    )
    counts.append(("Registros de auditoria (como alvo)", audit_targets))
    return MergePreview(duplicate, survivor, counts)


def merge(duplicate: User, survivor: User, actor: User) -> MergePreview:
    """Move everything, deactivate the duplicate, remember its e-mail. All or nothing: one unit
    of work, committed or rolled back whole at its boundary."""
    summary = preview(duplicate, survivor)
    if duplicate.id == actor.id:
        raise ValidationError("Você não pode mesclar a própria conta em outra.", field="survivor")
    old, new = duplicate.id, survivor.id
    _resolve_conflicts(old, new)
    for model, column, _label in REFERENCES:
        _move(model, column, old, new)
    _move_audit_targets(old, new)
    db.session.add(
        UserAlias(tenant_id=duplicate.tenant_id, email=duplicate.email, user_id=new, merged_user_id=old)
    )
    duplicate.is_active = False
    duplicate.password_hash = None
    duplicate.totp_secret = duplicate.totp_enabled_at = duplicate.totp_last_step = None
    for model, column in DELETED:
        db.session.execute(
            delete(model).where(getattr(model, column) == old).execution_options(synchronize_session=False)
        )
    audit.record(
        "usuário.mesclar",
        actor=actor,
        target=survivor,
        target_type="usuário",
        target_label=survivor.email,
        changes={"mesclada": [duplicate.email, survivor.email]}
        | {label: [0, count] for label, count in summary.counts if count},
    )
    db.session.flush()
    return summary


def _move(model, column: str, old: int, new: int) -> None:
    col = getattr(model, column)
    db.session.execute(
        update(model).where(col == old).values({column: new}).execution_options(synchronize_session=False)
    )


def _move_audit_targets(old: int, new: int) -> None:
    db.session.execute(
        update(AuditLog)
        .where(AuditLog.target_type == "usuário", AuditLog.target_id == old)
        .values(target_id=new)
        .execution_options(synchronize_session=False)
    )


def _resolve_conflicts(old: int, new: int) -> None:
    """Rows that would collide once moved: a device linked to both, a saved view name used by both."""
    already_linked = select(MachineLink.machine_id).where(MachineLink.user_id == new)
    assigned_to_survivor = select(Machine.id).where(Machine.assigned_user_id == new)
    db.session.execute(
        delete(MachineLink)
        .where(
            MachineLink.user_id == old,
            MachineLink.machine_id.in_(already_linked) | MachineLink.machine_id.in_(assigned_to_survivor),
        )
        .execution_options(synchronize_session=False)
    )
    survivor_names = select(SavedView.name).where(SavedView.user_id == new)
    for view in db.session.scalars(
        select(SavedView).where(and_(SavedView.user_id == old, SavedView.name.in_(survivor_names)))
    ):
        view.name = f"{view.name} (conta mesclada)"[:120]
    db.session.flush()
