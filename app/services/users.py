"""Creating and changing people. Every lookup is the current tenant's (the tenant gate)."""

import re

from sqlalchemy import select

from app.extensions import db
from app.models import Company, Persona, Role, User, UserAlias
from app.services.changes import apply_changes
from app.services.errors import ValidationError
from app.services.passwords import hash_password, password_problem
from app.services.permissions import persona_or_default

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_PATTERN.match(email) or len(email) > 254:
        raise ValidationError("Informe um e-mail válido.", field="email")
    return email


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def alias_owners(email: str):
    """SELECT of the accounts an e-mail of a merged-away account now signs in as (account merge)."""
    return (
        select(User)
        .join(UserAlias, UserAlias.user_id == User.id)
        .where(UserAlias.email == email.strip().lower())
        .order_by(User.id)
    )


def find_person(email: str) -> User | None:
    """The person an e-mail names now: an account merged away answers with the survivor."""
    user = find_user(email)
    if user is not None and user.is_active:
        return user
    return db.session.scalar(alias_owners(email)) or user


def validate_password(password: str, field: str = "password") -> None:
    problem = password_problem(password)
    if problem:
        raise ValidationError(problem, field=field)


def _validated_person(
    tenant_id: int, email: str, name: str, role, company_id: int | None, existing: User | None = None
) -> tuple[str, str, Role]:
    """The rules every person follows, whether created or edited."""
    email = normalise_email(email)
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Informe o nome.", field="name")
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError("Papel inválido.", field="role") from None
    owner = find_user(email)
    if owner is not None and owner is not existing:
        raise ValidationError("Já existe um usuário com este e-mail.", field="email")
    if company_id is not None:
        company = db.session.get(Company, company_id)
        if company is None or company.tenant_id != tenant_id:
            raise ValidationError("Empresa inválida.", field="company")
    if role is Role.COLLABORATOR and company_id is None:
        raise ValidationError("Colaboradores precisam de uma empresa.", field="company")
    return email, name, role


def _validated_persona(persona) -> Persona:
    try:
        return persona_or_default(persona)
    except ValueError:
        raise ValidationError("Perfil no portal inválido.", field="persona") from None


def create_user(
    *,
    tenant_id: int,
    email: str,
    name: str,
    role: Role | str,
    password: str | None = None,
    company_id: int | None = None,
    persona: Persona | str | None = None,
) -> User:
    email, name, role = _validated_person(tenant_id, email, name, role, company_id)
    persona = _validated_persona(persona)
    if password is not None:
        validate_password(password)

    user = User(
        tenant_id=tenant_id,
        email=email,
        name=name,
        role=role,
        company_id=company_id,
        persona=persona,
        password_hash=hash_password(password) if password else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


PERSON_TYPES = {"todos": "Todos", "pessoas": "Pessoas", "dispositivos": "Dispositivos"}
USERS_PAGE_LIMIT = 200


def list_people(search: str = "", limit: int = USERS_PAGE_LIMIT) -> list[User]:
    query = select(User).order_by(User.name).limit(limit)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(db.func.lower(User.name).like(pattern) | User.email.like(pattern))
    return list(db.session.scalars(query))


def update_user(
    user: User,
    *,
    email: str,
    name: str,
    role: str,
    company_id: int | None,
    is_active: bool,
    actor: User,
    persona: str | None = None,
) -> bool:
    """Edit a person. The id never changes, so their history stays with them."""
    email, name, role = _validated_person(user.tenant_id, email, name, role, company_id, existing=user)
    if user.id == actor.id and (role is not Role.ADMIN or not is_active):
        raise ValidationError("Você não pode rebaixar nem desativar a própria conta.", field="role")
    values = {"email": email, "name": name, "role": role, "company_id": company_id, "is_active": is_active}
    if persona is not None:
        values["persona"] = _validated_persona(persona)
    return bool(apply_changes(user, values))


def set_password(user: User, password: str) -> None:
    """A new password (an admin's, a reset, Minha conta): every session signed in with the old
    one ends (the session epoch is part of each session's user id)."""
    validate_password(password)
    replace_password(user, password)
    db.session.flush()


def replace_password(user: User, password: str) -> None:
    """Store a password that passed validate_password and sign the person out everywhere (no commit)."""
    user.password_hash = hash_password(password)
    user.session_epoch = (user.session_epoch or 0) + 1
