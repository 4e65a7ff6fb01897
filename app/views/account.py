"""Minha conta: which e-mails a person receives."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.services import notifications

bp = Blueprint("account", __name__)


@bp.get("/minha-conta")
@login_required
def index():
    return render_template(
        "account/index.html",
        kinds=notifications.kinds_for(current_user),
        is_enabled=notifications.is_enabled,
    )


@bp.post("/minha-conta/emails")
@login_required
def save_emails():
    changed = notifications.set_preferences(current_user, request.form.getlist("kinds"))
    flash("Preferências de e-mail salvas." if changed else "Nada mudou.", "success")
    return redirect(url_for("account.index"))
