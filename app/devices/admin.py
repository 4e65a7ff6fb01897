"""What the Dispositivos pages do to a device: name and describe it, reset its agent, adjust
who uses it, link and unlink people; and the removal of a throwaway device (`flask smoke`)."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from app.devices.people import person_for_device
from app.devices.registration import check_provisioning_secret
from app.devices.tokens import revoke_tokens
from app.extensions import db
from app.models import (
    Company,
    InventorySnapshot,
    LiveChatSession,
    Machine,
    MachineAlert,
    MachineIdentifier,
    MachineLink,
    MachinePresence,
    MachineToken,
    MetricSample,
    Persona,
    Role,
    Ticket,
    UsbPolicy,
    User,
)
from app.services import audit
from app.services.changes import apply_changes
from app.services.errors import Conflict, DomainError, NotFound, ValidationError
from app.services.users import find_user, normalise_email


def reset_agent(machine: Machine) -> int:
    """ "Resetar agente": every token stops working at once; the agent must register again."""
    count = revoke_tokens(machine, "reset")
    audit.record(
        "dispositivo.resetar",
        target=machine,
        target_type="dispositivo",
        target_label=machine.hostname,
        changes={"tokens_revogados": [None, count]},
    )
    db.session.flush()
    return count


DISPLAY_NAME_MAX = 120
NOTES_MAX = 4000


def describe_device(machine: Machine, display_name: str | None, notes: str | None) -> dict:
    """Staff's name and notes for a device ("Caixa da loja 2", who it was handed to). The
    hostname stays the agent's. Audited like any change of a device row; returns what changed."""
    name = " ".join((display_name or "").split()) or None
    notes = (notes or "").strip() or None
    if name and len(name) > DISPLAY_NAME_MAX:
        raise ValidationError(f"Nome de exibição: até {DISPLAY_NAME_MAX} caracteres.", field="display_name")
    if notes and len(notes) > NOTES_MAX:
        raise ValidationError(f"Observações: até {NOTES_MAX} caracteres.", field="notes")
    return apply_changes(machine, {"display_name": name, "notes": notes})


def adjust_access(machine: Machine, email: str, persona: str) -> User:
    """ "Ajustar acesso": who uses the device and with which persona."""
    try:
        persona = Persona(persona)
    except ValueError:
        raise ValidationError("Persona inválida.", field="persona") from None
    company = db.session.get(Company, machine.company_id) if machine.company_id else None
    if company is None:
        raise ValidationError("O dispositivo não tem empresa.", field="email")
    try:
        user = person_for_device(company, email)
    except ValidationError:
        raise
    except DomainError as error:  # a refusal for the agent API (403, 409): a form error here
        raise ValidationError(error.message, field="email") from None
    apply_changes(machine, {"assigned_user_id": user.id, "persona": persona})
    return user


def link_user(machine: Machine, email: str) -> User:
    user = find_user(normalise_email(email))
    if user is None:
        raise ValidationError("Nenhum usuário com este e-mail.", field="email")
    exists = db.session.get(MachineLink, (machine.id, user.id))
    if exists is not None or user.id == machine.assigned_user_id:
        raise Conflict("Este usuário já está vinculado ao dispositivo.")
    db.session.add(MachineLink(machine_id=machine.id, user_id=user.id))
    db.session.flush()
    return user


def unlink_user(machine: Machine, user_id: int) -> None:
    link = db.session.get(MachineLink, (machine.id, user_id))
    if link is None:
        raise NotFound("Vínculo não encontrado.")
    db.session.delete(link)
    db.session.flush()


def remove_throwaway_device(machine: Machine, secret: str | None) -> bool:
    """Delete a device registered only to be checked (`flask smoke`), with the person created for it.

    Needs the provisioning secret besides the device's own token, and refuses a device with history
    (tickets or chats): a stolen token must not erase a real computer. Returns whether the
    person was removed too (only one created by registration: never logged in, nothing else).
    """
    check_provisioning_secret(secret)
    has_history = db.session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.machine_id == machine.id)
    ) or db.session.scalar(
        select(func.count()).select_from(LiveChatSession).where(LiveChatSession.machine_id == machine.id)
    )
    if has_history:
        raise DomainError(
            "Este dispositivo tem chamados ou chats: remova pelo painel.",
            status=409,
            code="device_has_history",
        )
    person = machine.assigned_user
    # Explicit, not ON DELETE CASCADE alone: SQLite does not enforce foreign keys here.
    for model in (MachinePresence, MachineToken, MachineIdentifier, MachineLink, InventorySnapshot,
                  MetricSample, MachineAlert, UsbPolicy):  # fmt: skip
        db.session.execute(delete(model).where(model.machine_id == machine.id))
    db.session.delete(machine)
    db.session.flush()
    removed_person = person is not None and _is_unused_registration_person(person)
    if removed_person:
        db.session.delete(person)
    db.session.flush()
    return removed_person


def _is_unused_registration_person(user: User) -> bool:
    if user.password_hash or user.last_login_at or user.role != Role.COLLABORATOR:
        return False
    uses = (
        select(func.count()).select_from(Ticket).where(Ticket.requester_id == user.id),
        select(func.count()).select_from(Machine).where(Machine.assigned_user_id == user.id),
        select(func.count()).select_from(MachineLink).where(MachineLink.user_id == user.id),
    )
    return not any(db.session.scalar(query) for query in uses)
