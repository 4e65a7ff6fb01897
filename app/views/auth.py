"""Login and logout, for staff and collaborators alike; the second step of a sign-in with a
second factor; "Esqueci a senha" and the reset link."""

import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import TooManyRequests

from app.extensions import db
from app.models import User
from app.security import home_url
from app.services import password_changes, rate_limits, tenancy
from app.services.auth import authenticate, complete_second_factor
from app.services.errors import DomainError, FieldErrors
from app.services.passwords import MIN_PASSWORD_LENGTH
from app.services.rate_limits import limited
from app.views.device_sessions import end_device_session
from app.views.errors import TOO_MANY_REQUESTS

bp = Blueprint("auth", __name__)

# The signed session keeps who gave the right password, until the code comes (or time runs out).
PENDING_LOGIN = "pending_login"
RESET_SENT = (
    "Se o e-mail estiver cadastrado, enviaremos um link para redefinir a senha. "
    "Confira a caixa de entrada (e o spam); o link vale por 1 hora."
)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _reset_limit() -> str:
    return current_app.config["PASSWORD_RESET_RATE_LIMIT"]


def safe_next_url(target: str | None) -> str | None:
    """Only same-site relative paths; anything else would be an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def render_login(error: str | None = None, status: int = 200, email: str = ""):
    return (
        render_template(
            "auth/login.html",
            error=error,
            email=email or request.form.get("email", ""),
            next_url=safe_next_url(request.values.get("next")) or "",
        ),
        status,
    )


def _render_second_factor(error: str | None = None, status: int = 200):
    return render_template("auth/second_factor.html", error=error), status


def _render_forgot(error: str | None = None, status: int = 200, sent: bool = False):
    email = request.form.get("email", "").strip() if not sent else ""
    page = render_template(
        "auth/forgot_password.html", error=error, email=email, sent=sent, reset_sent=RESET_SENT
    )
    return page, status


@bp.errorhandler(TooManyRequests)
def _too_many_attempts(error):
    """Too many attempts: the page itself says so, keeping the e-mail typed."""
    if request.endpoint == "auth.second_factor":
        page = _render_second_factor(TOO_MANY_REQUESTS, 429)
    elif request.endpoint == "auth.forgot_password":
        page = _render_forgot(TOO_MANY_REQUESTS, 429)
    elif request.endpoint == "auth.reset_password":
        page = _render_reset(request.form.get("token", ""), {"form": TOO_MANY_REQUESTS}, 429)
    else:
        page = render_login(TOO_MANY_REQUESTS, status=429, email=request.form.get("email", "").strip())
    response = current_app.make_response(page)
    if getattr(error, "retry_after", None):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
@limited(_login_limit, methods=("POST",))
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_url(current_user))
    if request.method == "GET":
        return render_login()

    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    if not email or not password:
        return render_login("Informe e-mail e senha.", status=422, email=email)

    result = authenticate(email, password)
    if result.user is None:
        return render_login(result.error, status=401, email=email)

    session.pop("device", None)  # a password login replaces any device session
    next_url = safe_next_url(request.form.get("next"))
    remember = bool(request.form.get("remember"))
    if result.needs_second_factor:
        # Not signed in yet: only who gave the right password, for a few minutes.
        session[PENDING_LOGIN] = {
            "user": result.user.id,
            "tenant": result.user.tenant_id,
            "epoch": result.user.session_epoch or 0,
            "until": int(time.time()) + current_app.config["TWO_FACTOR_PENDING_SECONDS"],
            "remember": remember,
            "next": next_url or "",
        }
        return redirect(url_for("auth.second_factor"))
    login_user(result.user, remember=remember)
    return redirect(next_url or home_url(result.user))


def _pending_user() -> tuple[User | None, dict]:
    """Who is between the password and the code, while it is still time."""
    pending = session.get(PENDING_LOGIN)
    if not isinstance(pending, dict):
        return None, {}
    try:
        if int(pending["until"]) < time.time():
            return None, {}
        tenancy.enter(int(pending["tenant"]))
        user = db.session.get(User, int(pending["user"]))
        epoch = int(pending["epoch"])
    except (KeyError, TypeError, ValueError):
        return None, {}
    if user is None or not user.is_active or not user.has_two_factor or epoch != (user.session_epoch or 0):
        return None, {}
    return user, pending


def _start_again():
    if session.pop(PENDING_LOGIN, None) is not None:
        flash("Entre de novo: o tempo para digitar o código acabou.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/login/verificacao", methods=["GET", "POST"])
@limited(_login_limit, methods=("POST",))
def second_factor():
    """The second step: the app's 6-digit code or a recovery code; signed in only when it is right."""
    user, pending = _pending_user()
    if user is None:
        return _start_again()
    if request.method == "GET":
        return _render_second_factor()
    rate_limits.enforce(f"two_factor:{user.id}", current_app.config["TWO_FACTOR_RATE_LIMIT"])
    code = request.form.get("code", "").strip()
    if not code:
        return _render_second_factor(
            "Digite o código de 6 dígitos do aplicativo ou um código de recuperação.", 422
        )
    result = complete_second_factor(user, code)
    if result.user is None:
        return _render_second_factor(result.error, 401)
    session.pop(PENDING_LOGIN, None)
    login_user(result.user, remember=bool(pending.get("remember")))
    return redirect(safe_next_url(pending.get("next")) or home_url(result.user))


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()  # a device session's context too
    flash("Você saiu do sistema.", "info")
    response = redirect(url_for("auth.login"))
    end_device_session(response)
    return response


# --- Esqueci a senha -------------------------------------------------------------------------


@bp.route("/esqueci-a-senha", methods=["GET", "POST"])
@limited(_reset_limit, methods=("POST",))
def forgot_password():
    if request.method == "GET":
        return _render_forgot()
    try:
        email = password_changes.validate_email(request.form.get("email", ""))
    except FieldErrors as error:
        return _render_forgot(error.message, 422)
    password_changes.request_reset(email)
    return _render_forgot(sent=True)


def _render_reset(token: str, errors: dict | None = None, status: int = 200):
    response = current_app.make_response(
        (
            render_template(
                "auth/reset_password.html",
                token=token,
                errors=errors or {},
                min_password_length=MIN_PASSWORD_LENGTH,
            ),
            status,
        )
    )
    # The token is in the address: no other site hears of it, no cache keeps the page.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _link_invalid():
    response = current_app.make_response(
        (render_template("auth/reset_invalid.html", message=password_changes.LINK_INVALID), 400)
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/redefinir-senha", methods=["GET", "POST"])
@limited(_login_limit, methods=("POST",))
def reset_password():
    token = request.values.get("token", "")
    if request.method == "GET":
        if password_changes.valid_token(token) is None:
            return _link_invalid()
        return _render_reset(token)
    try:
        password_changes.reset_password(
            token, request.form.get("password", ""), request.form.get("password_confirm", "")
        )
    except FieldErrors as error:
        db.session.rollback()
        return _render_reset(token, error.errors, 422)
    except DomainError:
        db.session.rollback()
        return _link_invalid()
    logout_user()
    session.clear()
    flash("Senha redefinida. Entre com a nova senha.", "success")
    return redirect(url_for("auth.login"))
