"""Staff and collaborator sign-in: the one place that decides who may log in.

A person with a second factor on signs in in two steps: `authenticate` says the password was
right and a code is needed (nothing recorded as a login yet), `complete_second_factor` checks
the code and only then is it a login. The session loader refuses a session whose epoch is
older than the person's (a password change signs out every earlier session)."""

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.types import utcnow
from app.services import audit, tenancy, two_factor
from app.services.passwords import hash_password, needs_rehash, verify_password
from app.services.users import alias_owners

INVALID_CREDENTIALS = "E-mail ou senha inválidos."
INACTIVE_ACCOUNT = "Esta conta está desativada. Fale com o administrador."


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    # The password was right; the person must still give a code of their second factor.
    needs_second_factor: bool = False


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
        if user.has_two_factor:
            return LoginResult(user, needs_second_factor=True)  # the boundary commits what changed
        return _signed_in(user, email)
    return _refused(email, candidates[0], "senha inválida", INVALID_CREDENTIALS)


def complete_second_factor(user: User, code: str) -> LoginResult:
    """The second step of `user`'s sign-in (their password was right a moment ago)."""
    method = two_factor.check_code(user, code)
    if method is None:
        return _refused(user.email, user, "código de verificação inválido", two_factor.WRONG_SIGN_IN_CODE)
    if method == "recovery":
        audit.record(
            "login.código_de_recuperação",
            actor=user,
            target=user,
            target_type="usuário",
            target_label=user.email,
            changes={"códigos restantes": [None, two_factor.remaining_recovery_codes(user)]},
        )
    detail = {"segundo fator": [None, "código de recuperação" if method == "recovery" else "aplicativo"]}
    return _signed_in(user, user.email, detail)


def _signed_in(user: User, email: str, changes: dict | None = None) -> LoginResult:
    user.last_login_at = utcnow()
    audit.record(
        "login.sucesso", actor=user, target=user, target_type="usuário", target_label=email, changes=changes
    )
    return LoginResult(user)


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
    """Flask-Login's loader: a deactivated user is logged out on the next request, and so is a
    session older than the person's last password change. The id is "<id>.<session epoch>"
    (User.get_id); a bare "<id>", from before epochs, is good until the first change."""
    number, _, epoch = (user_id or "").partition(".")
    try:
        user = db.session.get(User, int(number))
        epoch = int(epoch) if epoch else 0
    except (TypeError, ValueError):
        return None
    if user is None or not user.is_active or epoch != (user.session_epoch or 0):
        return None
    return user
