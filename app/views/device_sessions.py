"""Device sessions in the browser: GET /machines/handshake (top-level navigation
from the desktop app) and the pieces POST /api/machines/sessions shares with it."""

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from itsdangerous import URLSafeSerializer

from app.devices.sessions import (
    DeviceSession,
    handshake_destination,
    open_device_session,
    resume_device_session,
    session_invalid,
)
from app.extensions import csrf
from app.security import origin_is_ours
from app.services.errors import DomainError
from app.services.rate_limits import limited
from app.views.errors import json_error

bp = Blueprint("device_sessions", __name__)
csrf.exempt(bp)

SESSION_KEY = "device"
CONTEXT_COOKIE = "machine_ctx"


def _context_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="machine-ctx")


def begin_device_session(device: DeviceSession) -> None:
    """Sign the browser in as the device's person; the session remembers the token id."""
    session.clear()
    login_user(device.person, remember=False)
    session[SESSION_KEY] = device.payload()
    g.device_session = device


def set_context_cookie(response, device: DeviceSession):
    """The machine_ctx cookie (signed, HttpOnly): the device and its person, set on its own."""
    config = current_app.config
    response.set_cookie(
        CONTEXT_COOKIE,
        _context_serializer().dumps(device.context()),
        httponly=True,
        secure=config["SESSION_COOKIE_SECURE"],
        samesite=config["SESSION_COOKIE_SAMESITE"],
        path="/",
    )
    return response


def end_device_session(response) -> None:
    response.delete_cookie(CONTEXT_COOKIE, path="/")


def allow_credentials_for_origin(response):
    """CORS with credentials for the desktop app's WebView, only for the listed origins."""
    origin = (request.headers.get("Origin") or "").rstrip("/")
    if origin and origin in current_app.config["MACHINE_SESSION_ALLOWED_ORIGINS"]:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.vary.add("Origin")
    return response


def origin_refused() -> bool:
    """A browser on a foreign origin may not create a session (same-origin and native clients may)."""
    origin = request.headers.get("Origin")
    return bool(origin) and not origin_is_ours(origin, current_app.config["MACHINE_SESSION_ALLOWED_ORIGINS"])


@bp.before_app_request
def _load_device_session():
    """A device session lives only as long as its token: checked on every request."""
    g.device_session = None
    if not session:  # no session cookie (every device API call): reading it would mark it accessed
        return None
    payload = session.get(SESSION_KEY)
    if not payload or not current_user.is_authenticated:
        return None
    try:
        if int(payload["user_id"]) != current_user.id:
            raise session_invalid()
        g.device_session = resume_device_session(payload)
    except (DomainError, KeyError, TypeError, ValueError) as error:
        logout_user()
        session.clear()
        message = getattr(error, "message", "Sessão do dispositivo inválida.")
        if request.path.startswith("/api/"):
            response, _status = json_error(401, getattr(error, "code", "session_invalid"), message)
            response.status_code = 401
        else:
            flash(f"A sessão do dispositivo terminou: {message}", "error")
            response = redirect(url_for("auth.login"))
        end_device_session(response)
        return response
    return None


@bp.get("/machines/handshake")
@limited("30 per minute")
def handshake():
    destination = handshake_destination(request.args.get("redirect"))
    if destination is None:
        return render_template(
            "device_sessions/error.html", message="Destino de redirecionamento não permitido."
        ), 400
    try:
        device = open_device_session(request.args.get("token"))
    except DomainError as error:
        return render_template("device_sessions/error.html", message=error.message), error.status
    begin_device_session(device)
    endpoint, values = destination
    response = redirect(url_for(endpoint, **values))
    set_context_cookie(response, device)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this URL
    return allow_credentials_for_origin(response)
