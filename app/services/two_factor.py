"""Two-factor sign-in for staff: a TOTP app (RFC 6238, pyotp) and one-time recovery codes.

Enrolment: Minha conta shows a new secret as a QR code and as text; the first right code turns
it on and hands out RECOVERY_CODE_COUNT recovery codes, shown once. After that the secret is
never shown again: it is stored encrypted (Fernet, with a key derived from SECRET_KEY by HKDF),
so a copy of the database alone does not give away anyone's codes. Rotating SECRET_KEY makes the
stored secrets unreadable: the people concerned then sign in with a recovery code (stored as
SHA-256, independent of SECRET_KEY) or an admin turns their second factor off.

A code is good once: the time step of the last accepted code is kept and only a later step is
accepted (claimed by one UPDATE, so two requests racing with the same code do not both pass).
A tenant may require a second factor of its staff (Tenant.require_two_factor): those without one
are sent to enrol right after signing in (views.account.require_two_factor_enrolment).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from functools import lru_cache

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from app.extensions import db
from app.models import STAFF_ROLES, RecoveryCode, Tenant, User
from app.models.types import utcnow
from app.services import audit
from app.services.errors import Conflict, FieldErrors, PermissionDenied, ValidationError
from app.services.passwords import verify_password
from app.services.permissions import can

ISSUER = "Chamados"
RECOVERY_CODE_COUNT = 10
# Unambiguous letters and digits (no 0/o, 1/l/i): 31 symbols, 12 of them ≈ 59 random bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 12
# The step before and after the current one: a phone clock 30 s off still signs in.
VALID_WINDOW = 1
APP_CODE = re.compile(r"\d{6}")
# What a person typed as a code is read, at most, this long (a recovery code with its dashes).
MAX_CODE_INPUT = 40

WRONG_CODE = "Código incorreto. Digite o código de 6 dígitos que o aplicativo mostra agora."
WRONG_SIGN_IN_CODE = "Código inválido. Confira o código no aplicativo ou use um código de recuperação."
WRONG_PASSWORD = "Senha incorreta."


# --- the secret, sealed -----------------------------------------------------------------


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"chamados:totp-secret").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    """A TOTP secret encrypted for storage (or for the session, while enrolling)."""
    return _fernet(current_app.config["SECRET_KEY"]).encrypt(secret.encode()).decode()


def unseal(sealed: str | None) -> str | None:
    """The secret back, or None when it cannot be read (another SECRET_KEY, tampered)."""
    if not sealed:
        return None
    try:
        return _fernet(current_app.config["SECRET_KEY"]).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None


# --- enrolment ---------------------------------------------------------------------------


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, what authenticator apps expect


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_data_uri(text: str) -> str:
    """An SVG QR code as a data: URI (the CSP allows data: images; nothing leaves the server)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=2)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, after_step: int | None) -> int | None:
    """The time step whose code is `code`, within VALID_WINDOW of now and later than `after_step`."""
    if not APP_CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time() // totp.interval)
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if (after_step is None or step > after_step) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _typed(code: str | None) -> str:
    """A code as typed, without spaces and dashes, lower case (recovery codes ignore case)."""
    return re.sub(r"[\s-]", "", (code or "")[:MAX_CODE_INPUT]).lower()


def _hash_recovery_code(code: str) -> str:
    return hashlib.sha256(_typed(code).encode()).hexdigest()


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        code = "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))
        db.session.add(
            RecoveryCode(tenant_id=user.tenant_id, user_id=user.id, code_hash=_hash_recovery_code(code))
        )
        codes.append(code)
    return codes


def enable(user: User, secret: str, code: str) -> list[str]:
    """Turn the second factor on once `code` proves the app has `secret`; the recovery codes,
    to be shown once."""
    if not can(user, "account.two_factor"):
        raise PermissionDenied("A verificação em duas etapas é para a equipe de suporte.")
    if user.has_two_factor:
        raise Conflict("A verificação em duas etapas já está ativa nesta conta.")
    step = _matching_step(secret, _typed(code), None)
    if step is None:
        raise ValidationError(WRONG_CODE, field="code")
    audit.record(
        "2fa.ativada", actor=user, target=user, target_type="usuário", target_label=user.email, covers=user
    )
    user.totp_secret = seal(secret)
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    codes = _replace_recovery_codes(user)
    db.session.flush()
    return codes


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


# --- checking a code ----------------------------------------------------------------------


def _claim_app_code(user: User, code: str) -> bool:
    secret = unseal(user.totp_secret)
    step = _matching_step(secret, code, user.totp_last_step) if secret else None
    if step is None:
        return False
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed:
        user.totp_last_step = step
        db.session.expire(user, ["updated_at"])
    return bool(claimed)


def _claim_recovery_code(user: User, code: str) -> bool:
    if len(code) != RECOVERY_CODE_LENGTH:
        return False
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_recovery_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(used)


def check_code(user: User, code: str | None, *, recovery: bool = True) -> str | None:
    """'app' for the app's current code, 'recovery' for an unused recovery code (now used up),
    None otherwise. Not committed: the caller's work (its audit row) commits with it."""
    if not user.has_two_factor:
        return None
    typed = _typed(code)
    if _claim_app_code(user, typed):
        return "app"
    if recovery and _claim_recovery_code(user, typed):
        return "recovery"
    return None


# --- turning it off, new codes --------------------------------------------------------


def disable(user: User, *, actor: User, password: str | None = None, code: str | None = None) -> None:
    """Turn a person's second factor off: themselves with their password and a code (app or
    recovery), or an admin helping someone who lost the phone and the codes."""
    if not user.has_two_factor:
        raise Conflict("A verificação em duas etapas já está desativada nesta conta.")
    by_self = actor.id == user.id
    if by_self:
        errors = {}
        if not verify_password(user.password_hash, password or ""):
            errors["password"] = WRONG_PASSWORD
        elif check_code(user, code) is None:
            errors["code"] = WRONG_SIGN_IN_CODE
        if errors:
            raise FieldErrors(errors)  # its 4xx answer rolls back whatever the check touched
    elif not can(actor, "admin.security") or actor.tenant_id != user.tenant_id:
        raise PermissionDenied("Só um administrador pode desativar a verificação de outra pessoa.")
    _turn_off(user, actor, "o próprio usuário" if by_self else f"administrador {actor.email}")


def disable_from_the_command_line(user: User) -> None:
    """`flask users disable-two-factor`: for the only admin, who lost the phone and the codes."""
    if not user.has_two_factor:
        raise Conflict("A verificação em duas etapas já está desativada nesta conta.")
    _turn_off(user, None, "linha de comando do servidor")


def _turn_off(user: User, actor: User | None, by: str) -> None:
    audit.record(
        "2fa.desativada",
        actor=actor,
        target=user,
        target_type="usuário",
        target_label=user.email,
        changes={"por": [None, by]},
        covers=user,
    )
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


def regenerate_recovery_codes(user: User, code: str | None) -> list[str]:
    """New recovery codes (the old ones stop working), for the app's current code."""
    if check_code(user, code, recovery=False) is None:
        raise ValidationError(WRONG_CODE, field="code")  # its 4xx answer rolls back the check
    audit.record(
        "2fa.códigos_gerados",
        actor=user,
        target=user,
        target_type="usuário",
        target_label=user.email,
        covers=user,
    )
    codes = _replace_recovery_codes(user)
    db.session.flush()
    return codes


# --- the tenant's requirement ----------------------------------------------------------


def enrolment_required(user: User) -> bool:
    """A staff member of a tenant that requires a second factor, who has none yet."""
    if user.has_two_factor or not can(user, "account.two_factor"):
        return False
    tenant = db.session.get(Tenant, user.tenant_id)
    return bool(tenant and tenant.require_two_factor)


def set_requirement(tenant: Tenant, required: bool, *, actor: User) -> bool:
    """Require (or stop requiring) a second factor of the tenant's staff. Whoever turns it on
    has one already, so nobody locks the tenant's admins out of their own settings."""
    if required == tenant.require_two_factor:
        return False
    if required and not actor.has_two_factor:
        raise ValidationError(
            "Ative primeiro a verificação em duas etapas na sua própria conta (Minha conta) "
            "para exigi-la da equipe.",
            field="require_two_factor",
        )
    audit.record(
        "2fa.exigência",
        actor=actor,
        target=tenant,
        target_type="configurações",
        target_label=tenant.name,
        changes={
            "exigir da equipe": ["sim" if tenant.require_two_factor else "não", "sim" if required else "não"]
        },
        covers=tenant,
    )
    tenant.require_two_factor = required
    db.session.flush()
    return True


def staff_overview() -> list[User]:
    """The tenant's active staff, those without a second factor first (the Segurança page)."""
    people = db.session.scalars(
        select(User).where(User.role.in_(STAFF_ROLES), User.is_active.is_(True)).order_by(User.name)
    ).all()
    return sorted(people, key=lambda person: person.has_two_factor)
