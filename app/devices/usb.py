"""The USB storage policy: set on the device page, delivered in the heartbeat answer,
acknowledged by the agent, expired when it never is (USB_POLICY_STALE_MINUTES)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app.devices.serializers import usb_policy_command
from app.devices.tokens import AgentContext
from app.extensions import db
from app.models import Machine, UsbPolicy, UsbPolicyMode, UsbPolicyStatus, User
from app.models.types import utcnow
from app.services.errors import DomainError, ValidationError


def set_usb_policy(machine: Machine, mode: str, actor: User) -> UsbPolicy:
    try:
        mode = UsbPolicyMode(mode)
    except ValueError:
        raise ValidationError("Política USB inválida.", field="mode") from None
    policy = db.session.get(UsbPolicy, machine.id)
    if (
        policy is not None
        and policy.mode == mode
        and policy.status in (UsbPolicyStatus.PENDING, UsbPolicyStatus.APPLIED)
    ):
        return policy  # already there or on its way: nothing to write
    if policy is None:
        policy = UsbPolicy(machine_id=machine.id)
        db.session.add(policy)
    policy.mode, policy.status, policy.message = mode, UsbPolicyStatus.PENDING, None
    policy.requested_by_id, policy.requested_at, policy.acknowledged_at = actor.id, utcnow(), None
    db.session.flush()
    return policy


def commands_for(context: AgentContext) -> list[dict]:
    """What the agent must do now: today, apply a pending USB policy."""
    if context.usb_status != UsbPolicyStatus.PENDING:
        return []
    return [usb_policy_command(UsbPolicyMode(context.usb_mode), context.usb_requested_at)]


def acknowledge_usb_policy(machine: Machine, status: str, message: str | None) -> UsbPolicy:
    policy = db.session.get(UsbPolicy, machine.id)
    if policy is None or policy.status != UsbPolicyStatus.PENDING:
        raise DomainError(
            "Não há política USB pendente para este dispositivo.", status=409, code="no_pending_policy"
        )
    if status not in ("APPLIED", "FAILED"):
        raise DomainError(
            "status deve ser APPLIED ou FAILED.", status=422, code="invalid_field", field="status"
        )
    policy.status = UsbPolicyStatus(status)
    policy.message = (message or "")[:2000] or None
    policy.acknowledged_at = utcnow()
    db.session.flush()
    return policy


def expire_stale_usb_policies(now: datetime | None = None, batch: int = 500) -> int:
    """Mark PENDING policies older than USB_POLICY_STALE_MINUTES as EXPIRED (the cleanup job)."""
    cutoff = (now or utcnow()) - timedelta(minutes=current_app.config["USB_POLICY_STALE_MINUTES"])
    ids = db.session.scalars(
        select(UsbPolicy.machine_id)
        .where(UsbPolicy.status == UsbPolicyStatus.PENDING, UsbPolicy.requested_at < cutoff)
        .limit(batch)
    ).all()
    if ids:
        db.session.execute(
            update(UsbPolicy)
            .where(UsbPolicy.machine_id.in_(ids), UsbPolicy.status == UsbPolicyStatus.PENDING)
            .values(status=UsbPolicyStatus.EXPIRED, message="Sem confirmação do agente no prazo.")
            .execution_options(synchronize_session=False)
        )
    return len(ids)
