"""Login and logout, for staff and collaborators alike."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import TooManyRequests

from app.security import home_url
from app.services.auth import authenticate
from app.services.rate_limits import limited
from app.views.device_sessions import end_device_session
from app.views.errors import TOO_MANY_REQUESTS

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


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


@bp.errorhandler(TooManyRequests)
def _too_many_logins(error):
    """Too many attempts: the login page itself says so, keeping the e-mail typed."""
    response = current_app.make_response(
        render_login(
            TOO_MANY_REQUESTS,
            status=429,
            email=request.form.get("email", "").strip(),
        )
    )
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
    login_user(result.user, remember=bool(request.form.get("remember")))
    return redirect(safe_next_url(request.form.get("next")) or home_url(result.user))


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()  # a device session's context too
    flash("Você saiu do sistema.", "info")
    response = redirect(url_for("auth.login"))
    end_device_session(response)
    return response
