"""The audit log: every change staff make to companies, people, queues, devices, USB policies and
settings, and every sign-in, success or failure.

Changes are captured in one place, a SQLAlchemy `after_flush` hook: whatever view
or service changes an audited row inside a signed-in staff request, its audit row
(before/after of each changed field) is written on the same connection, in the
same transaction, so a change and its audit row commit or roll back together.
Actions that are not a row change (sign-ins, agent reset = token revocation,
account merge) call `record` themselves.
"""

from __future__ import annotations

import csv
import enum
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context, request
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (
    STAFF_ROLES,
    AuditLog,
    CannedReply,
    Company,
    Machine,
    MachineLink,
    Persona,
    Queue,
    Role,
    Tenant,
    UsbPolicy,
    UsbPolicyMode,
    UsbPolicyStatus,
    User,
)
from app.models.types import utcnow

PAGE_SIZE = 50
CSV_MAX_ROWS = 500_000

# Audited models: target type, and how a row names itself.
AUDITED = {
    Company: ("empresa", lambda o: o.apelido),
    User: ("usuário", lambda o: o.email),
    Queue: ("fila", lambda o: o.name),
    Machine: ("dispositivo", lambda o: o.label),
    MachineLink: ("vínculo", lambda o: f"dispositivo {o.machine_id} ↔ usuário {o.user_id}"),
    UsbPolicy: ("política USB", lambda o: f"dispositivo {o.machine_id}"),
    Tenant: ("configurações", lambda o: o.name),
    CannedReply: ("resposta pronta", lambda o: o.title),
}
# Bookkeeping, not decisions: never audited.
IGNORED_FIELDS = frozenset(
    {
        "id",
        "tenant_id",
        "created_at",
        "updated_at",
        "last_login_at",
        "inventory_hash",
        "inventory_fingerprint",
        "ticket_sequence",
        "preferences",
        "session_epoch",
        "totp_last_step",
    }
)
SECRET_FIELDS = frozenset({"password_hash", "inventory_password_hash", "totp_secret"})
SECRET_MARK = "(alterado)"

ACTION_LABELS = {
    "empresa.criar": "Empresa criada",
    "empresa.alterar": "Empresa alterada",
    "usuário.criar": "Usuário criado",
    "usuário.alterar": "Usuário alterado",
    "usuário.mesclar": "Contas mescladas",
    "fila.criar": "Fila criada",
    "fila.alterar": "Fila alterada",
    "fila.excluir": "Fila excluída",
    "dispositivo.alterar": "Dispositivo alterado",
    "dispositivo.resetar": "Agente resetado (tokens revogados)",
    "vínculo.criar": "Usuário vinculado a dispositivo",
    "vínculo.excluir": "Vínculo removido",
    "política USB.criar": "Política USB definida",
    "política USB.alterar": "Política USB alterada",
    "configurações.alterar": "Configurações alteradas",
    "resposta pronta.criar": "Resposta pronta criada",
    "resposta pronta.alterar": "Resposta pronta alterada",
    "resposta pronta.excluir": "Resposta pronta excluída",
    "chamado.mesclar": "Chamados mesclados",
    "login.sucesso": "Login",
    "login.falha": "Login recusado",
    "login.código_de_recuperação": "Login com código de recuperação",
    "senha.redefinição_pedida": "Redefinição de senha pedida (Esqueci a senha)",
    "senha.redefinição_recusada": "Redefinição de senha recusada",
    "senha.redefinida": "Senha redefinida pelo link do e-mail",
    "senha.alterada": "Senha alterada em Minha conta",
    "2fa.ativada": "Verificação em duas etapas ativada",
    "2fa.desativada": "Verificação em duas etapas desativada",
    "2fa.códigos_gerados": "Novos códigos de recuperação gerados",
    "2fa.exigência": "Exigência de verificação em duas etapas alterada",
}
# Actions of someone not signed in (yet): the row names them by the e-mail they typed.
ANONYMOUS_PREFIXES = ("login.", "senha.")
# session.info key: rows whose change in this transaction a `record(..., covers=row)` describes.
COVERED = "audit_covered"


def _staff_actor() -> User | None:
    """The signed-in staff member of this request, if any (agents and workers are not audited here)."""
    if not has_request_context():
        return None
    # The user Flask-Login already loaded for this request: never a query from inside a flush.
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_staff:
        return None
    return user


def client_ip() -> str | None:
    return (request.remote_addr or None) if has_request_context() else None


def _jsonable(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):  # serial numbers, MAC addresses: a list, not its repr
        return [_jsonable(item) for item in value]
    return str(value)


def _changes(obj, *, created: bool = False, deleted: bool = False) -> dict:
    state = inspect(obj)
    changes = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in IGNORED_FIELDS:
            continue
        if created or deleted:
            value = getattr(obj, key)
            if value is None or value in ([], {}):
                continue
            before, after = (value, None) if deleted else (None, value)
        else:
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before == after:
                continue
        if key in SECRET_FIELDS:
            changes[key] = [None, SECRET_MARK]
        else:
            changes[key] = [_jsonable(before), _jsonable(after)]
    return changes


def _row(actor: User | None, action: str, target_type: str, target, label: str, changes: dict) -> dict:
    tenant_id = getattr(target, "tenant_id", None) or (target.id if isinstance(target, Tenant) else None)
    return {
        "tenant_id": tenant_id or (actor.tenant_id if actor else None),
        "actor_id": actor.id if actor else None,
        "actor_label": actor.email if actor else "sistema",
        "action": action,
        "target_type": target_type,
        # Links and USB policies have no id of their own: they point at their device.
        "target_id": getattr(target, "id", None) or getattr(target, "machine_id", None),
        "target_label": (label or "")[:255],
        "changes": changes,
        "ip": client_ip(),
        "created_at": utcnow(),
    }


@event.listens_for(Session, "after_flush")
def _audit_flush(session: Session, _context) -> None:
    actor = _staff_actor()
    if actor is None:
        return
    covered = session.info.get(COVERED, ())
    rows = []
    for bucket, verb in ((session.new, "criar"), (session.dirty, "alterar"), (session.deleted, "excluir")):
        for obj in bucket:
            audited = AUDITED.get(type(obj))
            if audited is None or obj in covered:
                continue
            target_type, label = audited
            changes = _changes(obj, created=verb == "criar", deleted=verb == "excluir")
            if verb == "alterar" and not changes:
                continue
            rows.append(_row(actor, f"{target_type}.{verb}", target_type, obj, label(obj), changes))
    if rows:
        session.connection().execute(insert(AuditLog.__table__), rows)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_covered(session: Session, *_args) -> None:
    session.info.pop(COVERED, None)


def record(
    action: str,
    *,
    actor: User | None = None,
    target=None,
    target_type: str = "",
    target_label: str = "",
    changes: dict | None = None,
    tenant_id: int | None = None,
    covers=None,
) -> None:
    """An audit row for an action that is not a plain row change; committed with the caller's work.

    `covers`: a row whose change in this transaction this action describes (the password or the
    second factor of a person): the hook then writes no "usuário.alterar" row for it as well. Call
    this before changing the row, so no flush in between audits it first."""
    actor = actor if actor is not None else _staff_actor()
    row = _row(actor, action, target_type, target, target_label, changes or {})
    if tenant_id is not None:
        row["tenant_id"] = tenant_id
    if actor is None and action.startswith(ANONYMOUS_PREFIXES):
        row["actor_label"] = target_label
    if covers is not None:
        db.session.info.setdefault(COVERED, set()).add(covers)
    db.session.add(AuditLog(**row))


# --- the Auditoria page ---------------------------------------------------------------


@dataclass
class AuditFilters:
    actor_id: int | None = None
    action: str = ""
    target: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def query_args(self) -> dict:
        args = {
            "ator": self.actor_id,
            "acao": self.action,
            "alvo": self.target,
            "de": self.date_from.isoformat() if self.date_from else None,
            "ate": self.date_to.isoformat() if self.date_to else None,
        }
        return {k: v for k, v in args.items() if v}


def parse_filters(args) -> tuple[AuditFilters, list[str]]:
    """Filters from the query string, and the messages for the ones that could not be read."""
    errors = []
    filters = AuditFilters(
        action=(args.get("acao") or "").strip()[:60], target=(args.get("alvo") or "").strip()[:100]
    )
    actor = (args.get("ator") or "").strip()
    if actor:
        if actor.isdigit():
            filters.actor_id = int(actor)
        else:
            errors.append("Responsável inválido.")
    for key, attr, label in (("de", "date_from", "Data inicial"), ("ate", "date_to", "Data final")):
        raw = (args.get(key) or "").strip()
        if raw:
            try:
                setattr(filters, attr, date.fromisoformat(raw))
            except ValueError:
                errors.append(f"{label} inválida (use AAAA-MM-DD).")
    return filters, errors


def _filtered(filters: AuditFilters):
    query = select(AuditLog)
    if filters.actor_id:
        query = query.where(AuditLog.actor_id == filters.actor_id)
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.target:
        like = f"%{filters.target}%"
        query = query.where(AuditLog.target_label.ilike(like) | AuditLog.target_type.ilike(like))
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    if filters.date_from:
        query = query.where(AuditLog.created_at >= datetime.combine(filters.date_from, time.min, zone))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, zone)
        query = query.where(AuditLog.created_at < end)
    return query


def list_entries(filters: AuditFilters, before_id: int | None = None):
    """A page (newest first, keyset by id) and the id to continue from, or None."""
    query = _filtered(filters)
    if before_id:
        query = query.where(AuditLog.id < before_id)
    rows = db.session.scalars(query.order_by(AuditLog.id.desc()).limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].id if more and rows else None)


def actor_choices() -> list:
    return db.session.execute(
        select(User.id, User.name, User.email).where(User.role.in_(STAFF_ROLES)).order_by(User.name)
    ).all()


def action_choices() -> list[str]:
    used = db.session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)).all()
    return sorted(set(used) | {"login.sucesso", "login.falha"})


# How a changed field is named on the page and in the CSV (a field not listed keeps its key).
FIELD_LABELS = {
    "name": "nome",
    "email": "e-mail",
    "role": "papel",
    "company_id": "empresa",
    "persona": "persona",
    "password_hash": "senha",
    "is_active": "ativo",
    "provisioning_code": "código de provisionamento",
    "cnpj": "CNPJ",
    "display_name": "nome de exibição",
    "notes": "observações",
    "fingerprint": "impressão digital",
    "serial_numbers": "números de série",
    "mac_addresses": "endereços MAC",
    "os_name": "sistema",
    "os_version": "versão do sistema",
    "os_build": "build do sistema",
    "os_arch": "arquitetura",
    "source": "origem",
    "assigned_user_id": "usuário vinculado",
    "machine_id": "dispositivo",
    "user_id": "usuário",
    "mode": "modo",
    "status": "situação",
    "message": "mensagem",
    "requested_by_id": "pedido por",
    "requested_at": "pedido em",
    "acknowledged_at": "confirmado em",
    "key": "chave",
    "timezone": "fuso horário",
    "inventory_username": "usuário do inventário",
    "inventory_password_hash": "senha do inventário",
    "tokens_revogados": "tokens revogados",
}
# Stored enum values, in the words the pages use for them.
VALUE_LABELS = {
    "role": {role.value: role.label for role in Role},
    "persona": {persona.value: persona.label for persona in Persona},
    "mode": {mode.value: mode.label for mode in UsbPolicyMode},
    "status": {status.value: status.label for status in UsbPolicyStatus},
}
EMPTY_VALUE = "—"


def format_value(field: str, value) -> str:
    """A stored before/after value as a person reads it: never None, True or False."""
    if value is None or value == "" or value == []:
        return EMPTY_VALUE
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, list):
        return ", ".join(format_value(field, item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {format_value(key, item)}" for key, item in value.items())
    return VALUE_LABELS.get(field, {}).get(value, str(value))


def format_changes(changes: dict) -> str:
    return "; ".join(
        f"{FIELD_LABELS.get(field, field)}: {format_value(field, before)} → {format_value(field, after)}"
        for field, (before, after) in sorted(changes.items())
    )


CSV_HEADER = ["Data/hora", "Responsável", "Ação", "Alvo", "Identificador", "Alterações", "IP"]


def csv_lines(filters: AuditFilters):
    """The filtered log as CSV (`;`, UTF-8 with BOM for Excel), streamed a batch at a time."""
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield "\ufeff" + flush()
    query = _filtered(filters).order_by(AuditLog.id.desc()).limit(CSV_MAX_ROWS)
    for count, entry in enumerate(db.session.scalars(query.execution_options(yield_per=1000)), 1):
        writer.writerow(
            [
                entry.created_at.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S"),
                _safe(entry.actor_label),
                ACTION_LABELS.get(entry.action, entry.action),
                _safe(f"{entry.target_type} {entry.target_label}".strip()),
                entry.target_id or "",
                _safe(format_changes(entry.changes or {})),
                entry.ip or "",
            ]
        )
        if count % 1000 == 0:
            yield flush()
    yield flush()


def _safe(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
