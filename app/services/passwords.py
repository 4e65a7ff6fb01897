"""Password hashing with Argon2id (argon2-cffi defaults follow RFC 9106).

Under APP_ENV=testing the hash is Argon2id at its lowest cost: the suite creates hundreds of
accounts, and each production-cost hash takes ~90 ms. Verification reads the cost from the
hash itself, so either kind of hash verifies anywhere."""

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

MIN_PASSWORD_LENGTH = 8
# Long passphrases are welcome; past this a "password" is an attempt to make Argon2 hash megabytes.
MAX_PASSWORD_LENGTH = 256

_PRODUCTION = PasswordHasher()
_TESTING = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.config.get("TESTING"):
        return _TESTING
    return _PRODUCTION


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the e-mail is unknown, so both cases take the same time."""
    return hasher.hash("chamados-timing-equaliser")


def password_problem(password: str | None) -> str | None:
    """What is wrong with a new password, in Portuguese, or None: the rules every password
    set anywhere follows (an admin's, a reset, Minha conta)."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH or not password.strip():
        return f"A senha deve ter pelo menos {MIN_PASSWORD_LENGTH} caracteres."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"A senha pode ter no máximo {MAX_PASSWORD_LENGTH} caracteres."
    return None


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    hasher = _hasher()
    try:
        return hasher.verify(password_hash or _dummy_hash(hasher), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
