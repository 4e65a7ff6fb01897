"""Minha conta: which e-mails a person receives, their password, and (staff) the second factor
of their sign-in. Also the gate that sends staff to enrol when their tenant requires it."""

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user

from app.extensions import db
from app.security import requires
from app.services import notifications, password_changes, two_factor
from app.services.errors import DomainError, FieldErrors
from app.services.passwords import MIN_PASSWORD_LENGTH
from app.services.rate_limits import limited

bp = Blueprint("account", __name__)

# While enrolling, the new secret waits in the signed session, encrypted (two_factor.seal).
PENDING_SECRET = "totp_setup"
# What someone who must enrol may still open: the enrolment itself, signing out, files.
ENROLMENT_ENDPOINTS = frozenset(
    {
        "account.two_factor",
        "account.enable_two_factor",
        "auth.logout",
        "static",
        "health.health",
        "health.live",
    }
)
ENROLMENT_NEEDED = "Sua equipe exige a verificação em duas etapas. Ative-a para continuar."


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _no_store(response):
    response = current_app.make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_index(errors: dict | None = None, status: int = 200, typed: dict | None = None):
    """Minha conta; a refused form comes back with its message per field and what was typed in its
    text fields (never a password)."""
    return (
        render_template(
            "account/index.html",
            typed=typed or {},
            kinds=notifications.kinds_for(current_user),
            is_enabled=notifications.is_enabled,
            errors=errors or {},
            has_password=bool(current_user.password_hash),
            min_password_length=MIN_PASSWORD_LENGTH,
            recovery_left=two_factor.remaining_recovery_codes(current_user)
            if current_user.has_two_factor
            else 0,
        ),
        status,
    )


@bp.get("/minha-conta")
@login_required
def index():
    return _render_index()


@bp.post("/minha-conta/emails")
@login_required
def save_emails():
    changed = notifications.set_preferences(current_user, request.form.getlist("kinds"))
    flash("Preferências de e-mail salvas." if changed else "Nada mudou.", "success")
    return redirect(url_for("account.index"))


def keep_signed_in(user) -> None:
    """After the person's own password change: this session goes on under the new epoch (the
    others end), with its "Lembrar-me" cookie renewed if it had one."""
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
    login_user(user, remember=remembered)


@bp.post("/minha-conta/senha")
@requires("account.password", side="account.password")
@limited(_login_limit)
def change_password():
    form = request.form
    try:
        password_changes.change_password(
            current_user,
            form.get("current_password", ""),
            form.get("password", ""),
            form.get("password_confirm", ""),
        )
    except FieldErrors as error:
        db.session.rollback()
        return _render_index({f"senha_{field}": message for field, message in error.errors.items()}, 422)
    keep_signed_in(current_user)
    flash("Senha alterada. As outras sessões abertas com a senha antiga foram encerradas.", "success")
    return redirect(url_for("account.index"))


# --- the second factor -------------------------------------------------------------------


def _pending_secret(create: bool) -> str | None:
    secret = two_factor.unseal(session.get(PENDING_SECRET))
    if secret is None and create:
        secret = two_factor.new_secret()
        session[PENDING_SECRET] = two_factor.seal(secret)
    return secret


def _render_enrolment(secret: str, error: str | None = None, status: int = 200):
    uri = two_factor.provisioning_uri(current_user, secret)
    page = render_template(
        "account/two_factor.html",
        typed_code=request.form.get("code", "") if error else "",
        qr_code=two_factor.qr_code_data_uri(uri),
        secret=two_factor.grouped(secret),
        error=error,
        required=g.get("two_factor_enrolment", False),
    )
    return _no_store((page, status))


def _render_codes(codes: list[str], title: str):
    return _no_store((render_template("account/recovery_codes.html", codes=codes, title=title), 200))


@bp.get("/minha-conta/duas-etapas", endpoint="two_factor")
@requires("account.two_factor", side="account.two_factor")
def two_factor_page():
    """Enrolment: the QR code and the secret as text, and the code that confirms it. Once on,
    the secret is never shown again."""
    if current_user.has_two_factor:
        return redirect(url_for("account.index", _anchor="two-factor"))
    return _render_enrolment(_pending_secret(create=True))


@bp.post("/minha-conta/duas-etapas")
@requires("account.two_factor", side="account.two_factor")
@limited(_login_limit)
def enable_two_factor():
    if current_user.has_two_factor:
        return redirect(url_for("account.index", _anchor="two-factor"))
    secret = _pending_secret(create=False)
    if secret is None:
        flash("Comece de novo: leia o código QR abaixo com o aplicativo.", "info")
        return redirect(url_for("account.two_factor"))
    try:
        codes = two_factor.enable(current_user, secret, request.form.get("code", ""))
    except DomainError as error:
        db.session.rollback()
        return _render_enrolment(secret, error.message, error.status)
    session.pop(PENDING_SECRET, None)
    return _render_codes(codes, "Verificação em duas etapas ativada")


@bp.post("/minha-conta/duas-etapas/codigos")
@requires("account.two_factor", side="account.two_factor")
@limited(_login_limit)
def new_recovery_codes():
    if not current_user.has_two_factor:
        return redirect(url_for("account.two_factor"))
    try:
        codes = two_factor.regenerate_recovery_codes(current_user, request.form.get("code", ""))
    except DomainError as error:
        typed = {"codigos_code": request.form.get("code", "")}
        return _render_index({"codigos_code": error.message}, error.status, typed)
    return _render_codes(codes, "Novos códigos de recuperação")


@bp.post("/minha-conta/duas-etapas/desativar")
@requires("account.two_factor", side="account.two_factor")
@limited(_login_limit)
def disable_two_factor():
    if not current_user.has_two_factor:
        return redirect(url_for("account.index"))
    form = request.form
    try:
        two_factor.disable(
            current_user, actor=current_user, password=form.get("password", ""), code=form.get("code", "")
        )
    except FieldErrors as error:
        errors = {f"desativar_{field}": message for field, message in error.errors.items()}
        return _render_index(errors, 422, {"desativar_code": form.get("code", "")})
    flash("Verificação em duas etapas desativada.", "success")
    return redirect(url_for("account.index"))


def require_two_factor_enrolment():
    """Before every view: staff of a tenant that requires a second factor, without one, may
    only enrol (or sign out) until they do. Device sessions and collaborators are never asked."""
    if not session or not current_user.is_authenticated or not two_factor.enrolment_required(current_user):
        return None
    g.two_factor_enrolment = True
    if request.endpoint in ENROLMENT_ENDPOINTS:
        return None
    target = url_for("account.two_factor")
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        body = {"error": {"code": "two_factor_required", "message": ENROLMENT_NEEDED}}
        return jsonify(body), 403
    if request.headers.get("HX-Request"):
        return "", 204, {"HX-Redirect": target}
    return redirect(target)  # the enrolment page says why
