"""Device tokens: issued at registration, stored only as SHA-256, checked on every call.

`authenticate_token` is the one token check of the agent API, the chat socket and the
device sessions; it runs on every heartbeat, so it is one prepared statement in
autocommit (app/db_direct.py) that also reads what the heartbeat answer needs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from app import db_direct
from app.extensions import db
from app.models import (
    ChatSessionStatus,
    LiveChatSession,
    Machine,
    MachinePresence,
    MachineToken,
    UsbPolicy,
)
from app.models.types import utcnow
from app.services import tenancy
from app.services.errors import DomainError


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(machine: Machine, now: datetime | None = None) -> tuple[str, MachineToken]:
    """A new token: 32 random bytes, shown once, stored only as its SHA-256."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    ttl = timedelta(milliseconds=current_app.config["MACHINE_TOKEN_TTL_MS"])
    record = MachineToken(
        machine_id=machine.id, token_hash=hash_token(token), created_at=now, expires_at=now + ttl
    )
    db.session.add(record)
    return token, record


def revoke_tokens(machine: Machine, reason: str, now: datetime | None = None) -> int:
    result = db.session.execute(
        update(MachineToken)
        .where(MachineToken.machine_id == machine.id, MachineToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@dataclass
class AgentContext:
    """What a request needs of the device behind a token, read in one narrow query.

    The full device row is loaded only when something needs it (a changed
    inventory, alerts, the session endpoint), never for an identical heartbeat.
    """

    token_id: int
    machine_id: int
    tenant_id: int
    inventory_hash: str | None
    inventory_fingerprint: str | None
    usb_mode: str | None
    usb_status: str | None
    usb_requested_at: datetime | None
    last_sample_at: datetime | None = None
    chat_sessions: int = 0
    chat_unread: int = 0

    @property
    def machine(self) -> Machine:
        return db.session.get(Machine, self.machine_id)


# The heartbeat answers with the chat state; read in the token query itself (no extra round trip).
_active_device_chats = (
    LiveChatSession.machine_id == Machine.id,
    LiveChatSession.status == ChatSessionStatus.ACTIVE,
)
_active_chats = select(func.count()).where(*_active_device_chats).correlate(Machine)
_unread_chat = (
    select(func.coalesce(func.sum(LiveChatSession.unread_by_machine), 0))
    .where(*_active_device_chats)
    .correlate(Machine)
)

# Built once, with a bind parameter: app/db_direct.py compiles it once per engine.
_TOKEN_CONTEXT = (
    select(
        MachineToken.revoked_at,
        MachineToken.expires_at,
        MachineToken.id,
        Machine.id,
        Machine.tenant_id,
        Machine.is_active,
        Machine.inventory_hash,
        Machine.inventory_fingerprint,
        UsbPolicy.mode,
        UsbPolicy.status,
        UsbPolicy.requested_at,
        MachinePresence.last_sample_at,
        _active_chats.scalar_subquery(),
        _unread_chat.scalar_subquery(),
    )
    .join(Machine, Machine.id == MachineToken.machine_id)
    .outerjoin(UsbPolicy, UsbPolicy.machine_id == Machine.id)
    .outerjoin(MachinePresence, MachinePresence.machine_id == Machine.id)
    .where(MachineToken.token_hash == bindparam("token_hash"))
    .execution_options(all_tenants="a device's token names its device, whichever its tenant")
)


def token_context_row(token_hash: str) -> tuple | None:
    """The row of _TOKEN_CONTEXT for a token hash: one autocommit round trip (app/db_direct.py)."""
    return db_direct.first_row(_TOKEN_CONTEXT, {"token_hash": token_hash})


def authenticate_token(token: str | None) -> AgentContext:
    """The device of a bearer token, or a DomainError (401/403). The one token check.

    One statement in autocommit mode: a single round trip, with no BEGIN/COMMIT
    around it and no ORM session work (this runs on every heartbeat).
    """
    if not token:
        raise DomainError(
            "Envie o token do dispositivo no cabeçalho Authorization.", status=401, code="token_missing"
        )
    row = token_context_row(hash_token(token))
    if row is None:
        raise _token_invalid()
    revoked_at, expires_at, token_id, machine_id, tenant_id, is_active, *rest = row
    _refuse_unusable(revoked_at, expires_at, is_active)
    tenancy.enter(tenant_id)  # the rest of this request works in the device's tenant
    return AgentContext(token_id, machine_id, tenant_id, *rest)


def device_disabled() -> DomainError:
    """A deactivated device: its token, its registration and its inventories are refused."""
    return DomainError(
        "Este dispositivo foi desativado pelo administrador.", status=403, code="machine_disabled"
    )


def _token_invalid() -> DomainError:
    return DomainError("Token do dispositivo inválido.", status=401, code="token_invalid")


def _refuse_unusable(revoked_at: datetime | None, expires_at: datetime, machine_active: bool) -> None:
    if revoked_at is not None:
        raise DomainError(
            "Token revogado: registre o dispositivo novamente.", status=401, code="token_revoked"
        )
    if expires_at <= utcnow():
        raise DomainError(
            "Token expirado: registre o dispositivo novamente.", status=401, code="token_expired"
        )
    if not machine_active:
        raise device_disabled()


_TOKEN_STILL_VALID = (
    select(MachineToken.revoked_at, MachineToken.expires_at, Machine.is_active)
    .join(Machine, Machine.id == MachineToken.machine_id)
    .where(MachineToken.id == bindparam("token_id"))
    .execution_options(all_tenants="a device's token names its device, whichever its tenant")
)


def check_token_still_valid(token_id: int) -> None:
    """For sockets and sessions opened with a token: the same rules, by token id. Runs on
    every chat frame, so it is one autocommit round trip outside the request's transaction."""
    row = db_direct.first_row(_TOKEN_STILL_VALID, {"token_id": token_id})
    if row is None:
        raise _token_invalid()
    _refuse_unusable(*row)
