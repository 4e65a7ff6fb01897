"""A person changing their own password: "Esqueci a senha" (a link by e-mail) and Minha conta.

The reset link carries 32 random bytes; only their SHA-256 is stored (like the device tokens),
good for one use within RESET_TTL, and a newer request or a successful reset deletes the
person's other links. Asking for a link answers the same whether or not the e-mail has an
account, and takes about the same time (`_pad`: at least PASSWORD_RESET_MIN_MS). An
inactive account gets nothing. Every new password follows the rules of services.passwords and
raises the person's session epoch, which signs out every session opened with the old one.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import PasswordResetToken, User
from app.models.types import utcnow
from app.services import audit, notifications, rate_limits, tenancy
from app.services.errors import DomainError, FieldErrors
from app.services.passwords import password_problem, verify_password
from app.services.users import normalise_email, replace_password

RESET_TTL = timedelta(hours=1)
LINK_INVALID = (
    "Este link de redefinição não vale mais: ele expira em 1 hora, vale uma única vez e deixa de "
    "valer quando um link mais novo é pedido. Peça um novo link."
)
PASSWORDS_DIFFER = "As duas senhas não são iguais."
MAX_TOKEN_LENGTH = 100


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reset_link(token: str) -> str:
    """The query string, not the path: request logs write the path (never the query)."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/redefinir-senha?{urlencode({'token': token})}"


# --- asking for a link ---------------------------------------------------------------------


def request_reset(email: str, now: datetime | None = None) -> None:
    """E-mail a reset link to the active account(s) of `email`, if any. Returns nothing, and
    takes at least PASSWORD_RESET_MIN_MS either way: the answer must not tell whether the
    e-mail has an account. `email` must already be a valid address (users.normalise_email)."""
    started = time.monotonic()
    try:
        _request_reset(email, now or utcnow())
    finally:
        _pad(started)


def _pad(started: float) -> None:
    remaining = current_app.config["PASSWORD_RESET_MIN_MS"] / 1000 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


def _request_reset(email: str, now: datetime) -> None:
    # Per e-mail, whoever asks: past it nothing more is sent, and the answer stays the same.
    if not rate_limits.hit(
        f"password_reset:{email}", current_app.config["PASSWORD_RESET_EMAIL_RATE_LIMIT"]
    ).allowed:
        return
    with tenancy.all_tenants("a reset request's e-mail names the account, in whichever tenant it is"):
        accounts = db.session.scalars(select(User).where(User.email == email).order_by(User.id)).all()
        for user in accounts:
            if not user.is_active:
                _audit_request(user, "senha.redefinição_recusada", {"motivo": [None, "conta desativada"]})
                continue
            db.session.execute(delete(PasswordResetToken).where(PasswordResetToken.user_id == user.id))
            token = secrets.token_urlsafe(32)
            db.session.add(
                PasswordResetToken(
                    tenant_id=user.tenant_id,
                    user_id=user.id,
                    token_hash=hash_token(token),
                    created_at=now,
                    expires_at=now + RESET_TTL,
                )
            )
            notifications.notify_password_reset(user, reset_link(token), int(RESET_TTL.total_seconds() // 60))
            _audit_request(user, "senha.redefinição_pedida", {})
        db.session.flush()


def _audit_request(user: User, action: str, changes: dict) -> None:
    # Nobody is signed in: the row names the account asked about (its tenant's Auditoria).
    audit.record(
        action, actor=None, target=user, target_type="usuário", target_label=user.email, changes=changes
    )


# --- using it --------------------------------------------------------------------------------


def valid_token(token: str | None, now: datetime | None = None) -> PasswordResetToken | None:
    """The unexpired link of an active account this token opens, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    with tenancy.all_tenants("a reset link's token names its account, in whichever tenant it is"):
        row = db.session.scalar(
            select(PasswordResetToken)
            .where(PasswordResetToken.token_hash == hash_token(token))
            .options(joinedload(PasswordResetToken.user))
        )
    if row is None or row.expires_at <= (now or utcnow()) or not row.user.is_active:
        return None
    return row


def reset_password(token: str | None, password: str, confirmation: str, now: datetime | None = None) -> User:
    """Set the new password of the link's account and use the link up; every session of the
    account ends (a second factor, when on, is still asked at the next sign-in)."""
    row = valid_token(token, now)
    if row is None:
        raise DomainError(LINK_INVALID, status=400, code="reset_link_invalid")
    _check_new_password(password, confirmation)
    user = row.user
    with tenancy.all_tenants("the reset link's own account, found by its token"):
        audit.record(
            "senha.redefinida",
            actor=user,
            target=user,
            target_type="usuário",
            target_label=user.email,
            covers=user,
        )
        replace_password(user, password)
        db.session.execute(delete(PasswordResetToken).where(PasswordResetToken.user_id == user.id))
        notifications.notify_password_changed(user, "pelo link de redefinição enviado por e-mail")
        db.session.flush()
    return user


def _check_new_password(password: str, confirmation: str) -> None:
    errors = {}
    problem = password_problem(password)
    if problem:
        errors["password"] = problem
    elif password != confirmation:
        errors["password_confirm"] = PASSWORDS_DIFFER
    if errors:
        raise FieldErrors(errors)


# --- Minha conta -------------------------------------------------------------------------------


def change_password(user: User, current: str, password: str, confirmation: str) -> None:
    """The signed-in person's new password, given the current one; every field's problem at once
    (the view asks permissions' "account.password": never in a device session)."""
    errors = {}
    if not current:
        errors["current_password"] = "Informe a senha atual."
    elif not verify_password(user.password_hash, current):
        errors["current_password"] = "Senha atual incorreta."
    problem = password_problem(password)
    if problem:
        errors["password"] = problem
    elif password != confirmation:
        errors["password_confirm"] = PASSWORDS_DIFFER
    elif current and password == current:
        errors["password"] = "A nova senha precisa ser diferente da atual."
    if errors:
        raise FieldErrors(errors)
    audit.record(
        "senha.alterada", actor=user, target=user, target_type="usuário", target_label=user.email, covers=user
    )
    replace_password(user, password)
    notifications.notify_password_changed(user, "em Minha conta")
    db.session.flush()


def validate_email(email: str) -> str:
    """The e-mail of the "Esqueci a senha" form, normalised (a FieldErrors on the field when it
    is no address at all: that says nothing about accounts)."""
    try:
        return normalise_email(email)
    except DomainError as error:
        raise FieldErrors({"email": error.message}) from None
