"""Who uses a device: the person an agent registers it for, the person a session signs in as."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Company, Machine, MachineLink, Role, User
from app.services.errors import DomainError
from app.services.users import find_person, normalise_email

# The device's person, the seed's rule: the assigned user, else the first linked user (by
# link time). Written twice, side by side, because two callers need it in different forms:
# `device_person` loads the User (device sessions, the device page), `device_person_id` is
# the same rule as one SQL expression inside the statement that stores a chat message
# (chat.messages.speaker_id). Change both together; tests/test_device_person.py checks they agree.


def device_person(machine: Machine) -> User | None:
    """Who uses the device: the assigned user, else the first linked user."""
    if machine.assigned_user is not None:
        return machine.assigned_user
    return db.session.scalar(
        select(User)
        .join(MachineLink, MachineLink.user_id == User.id)
        .where(MachineLink.machine_id == machine.id)
        .order_by(MachineLink.created_at, User.id)
        .limit(1)
    )


def device_person_id(machine_id, *otherwise):
    """`device_person`'s id as an SQL expression for the device `machine_id` (a column or a
    bind parameter); NULL when nobody is linked, unless `otherwise` gives fallbacks."""
    assigned = select(Machine.assigned_user_id).where(Machine.id == machine_id).scalar_subquery()
    first_linked = (
        select(MachineLink.user_id)
        .where(MachineLink.machine_id == machine_id)
        .order_by(MachineLink.created_at, MachineLink.user_id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(assigned, first_linked, *otherwise)


def person_for_device(company: Company, email: str) -> User:
    """The person an e-mail names for a device of this company; created if new."""
    email = normalise_email(email)
    user = find_person(email)
    if user is None:
        user = User(
            tenant_id=company.tenant_id,
            email=email,
            name=email.split("@")[0],
            role=Role.COLLABORATOR,
            company_id=company.id,
        )
        db.session.add(user)
        db.session.flush()
        return user
    if not user.is_active:
        raise DomainError(
            "A conta deste e-mail está desativada.", status=403, code="user_disabled", field="email"
        )
    if user.role == Role.COLLABORATOR and user.company_id != company.id:
        raise DomainError(
            "Este e-mail pertence a outra empresa.", status=409, code="email_other_company", field="email"
        )
    return user


def machines_of_user(user: User) -> list[Machine]:
    """Devices a person uses: assigned to them or linked."""
    linked = select(MachineLink.machine_id).where(MachineLink.user_id == user.id)
    return list(
        db.session.scalars(
            select(Machine)
            .where((Machine.assigned_user_id == user.id) | Machine.id.in_(linked))
            .order_by(Machine.hostname)
        )
    )
