"""Staff and collaborator sign-in: the one place that decides who may log in."""

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.types import utcnow
from app.services import audit, tenancy
from app.services.passwords import hash_password, needs_rehash, verify_password
from app.services.users import alias_owners

INVALID_CREDENTIALS = "E-mail ou senha inválidos."
INACTIVE_ACCOUNT = "Esta conta está desativada. Fale com o administrador."


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None


def authenticate(email: str, password: str) -> LoginResult:
    """Check an e-mail and password.

    An e-mail may exist in several tenants; the account whose password matches
    wins (ordered by id so the answer is stable).
    """
    email = (email or "").strip().lower()
    with tenancy.all_tenants("a login's e-mail names the account, in whichever tenant it is"):
        candidates = db.session.scalars(select(User).where(User.email == email).order_by(User.id)).all()
        # The e-mail of an account merged into another signs in to the survivor.
        candidates += db.session.scalars(alias_owners(email)).all()
    if not candidates:
        verify_password(None, password)  # same cost as a real check
        return _refused(email, None, "e-mail desconhecido", INVALID_CREDENTIALS)
    for user in candidates:
        if not verify_password(user.password_hash, password):
            continue
        if not user.is_active:
            return _refused(email, user, "conta desativada", INACTIVE_ACCOUNT)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        audit.record("login.sucesso", actor=user, target=user, target_type="usuário", target_label=email)
        return LoginResult(user)
    return _refused(email, candidates[0], "senha inválida", INVALID_CREDENTIALS)


def _refused(email: str, user: User | None, reason: str, message: str) -> LoginResult:
    audit.record(
        "login.falha",
        actor=None,
        target=user,
        target_type="usuário",
        target_label=email[:254],
        changes={"motivo": [None, reason]},
    )
    # Committed here: the refusal's answer is a 401, whose work the request's boundary rolls back.
    db.session.commit()
    return LoginResult(None, message)


def load_active_user(user_id: str) -> User | None:
    """Flask-Login's loader: a deactivated user is logged out on the next request."""
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.is_active else None
