"""Admin ▸ Usuários: people and, with the type filter, devices."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.devices.people import machines_of_user
from app.extensions import db
from app.models import Machine, Persona, Role, Tenant, User
from app.security import requires
from app.services import merge as merge_service
from app.services import tenancy, two_factor
from app.services import users as user_service
from app.services.companies import list_companies
from app.services.errors import DomainError
from app.services.numbers import record_number
from app.services.permissions import DEFAULT_PERSONA
from app.views.account import keep_signed_in
from app.views.errors import flash_refusal

bp = Blueprint("users", __name__)

MAX_DEVICES = 200


@bp.get("/usuarios")
@requires("admin.users")
def index():
    kind = request.args.get("tipo", "todos")
    kind = kind if kind in user_service.PERSON_TYPES else "todos"
    search = request.args.get("q", "").strip()
    people = user_service.list_people(search) if kind != "dispositivos" else []
    devices = []
    if kind != "pessoas":
        query = select(Machine)
        if search:
            query = query.where(db.func.lower(Machine.label).like(f"%{search.lower()}%"))
        query = query.options(joinedload(Machine.assigned_user))
        devices = list(db.session.scalars(query.order_by(Machine.hostname).limit(MAX_DEVICES)))
    return render_template(
        "users/index.html",
        people=people,
        devices=devices,
        kind=kind,
        search=search,
        kinds=user_service.PERSON_TYPES,
    )


def _choices(person=None) -> dict:
    return {
        "roles": list(Role),
        "personas": list(Persona),
        "default_persona": DEFAULT_PERSONA,
        "companies": list_companies(),
        "devices": machines_of_user(person) if person else [],
    }


def _company_id(value: str | None) -> int | None:
    return record_number(value)


@bp.route("/usuarios/novo", methods=["GET", "POST"])
@requires("admin.users")
def new():
    if request.method == "GET":
        return render_template(
            "users/form.html", person=None, values={"role": "agent"}, errors={}, **_choices()
        )
    form = request.form
    try:
        person = user_service.create_user(
            tenant_id=current_user.tenant_id,
            email=form.get("email", ""),
            name=form.get("name", ""),
            role=form.get("role", ""),
            password=form.get("password") or None,
            company_id=_company_id(form.get("company_id")),
            persona=form.get("persona"),
        )
    except DomainError as error:
        return render_template(
            "users/form.html", person=None, values=form, errors={error.field: error.message}, **_choices()
        ), 422
    flash(f"Usuário {person.email} criado.", "success")
    return redirect(url_for("users.index"))


@bp.route("/usuarios/<int:user_id>", methods=["GET", "POST"])
@requires("admin.users")
def edit(user_id: int):
    person = tenancy.owned(User, user_id, "Usuário não encontrado.")
    if request.method == "GET":
        values = {
            "email": person.email,
            "name": person.name,
            "role": person.role.value,
            "company_id": person.company_id or "",
            "persona": person.persona.value,
            "is_active": person.is_active,
        }
        return render_template("users/form.html", person=person, values=values, errors={}, **_choices(person))
    form = request.form
    try:
        changed = user_service.update_user(
            person,
            email=form.get("email", ""),
            name=form.get("name", ""),
            role=form.get("role", ""),
            company_id=_company_id(form.get("company_id")),
            is_active=form.get("is_active") == "1",
            actor=current_user,
            persona=form.get("persona", ""),  # unset is the default persona, not "unchanged"
        )
    except DomainError as error:
        values = {**form, "is_active": form.get("is_active") == "1"}
        return render_template(
            "users/form.html",
            person=person,
            values=values,
            errors={error.field: error.message},
            **_choices(person),
        ), 422
    flash("Usuário atualizado." if changed else "Nada mudou.", "success")
    return redirect(url_for("users.index"))


@bp.post("/usuarios/<int:user_id>/senha")
@requires("admin.users")
def set_password(user_id: int):
    person = tenancy.owned(User, user_id, "Usuário não encontrado.")
    try:
        user_service.set_password(person, request.form.get("password", ""))
    except DomainError as error:
        flash_refusal(error.message)
        return redirect(url_for("users.edit", user_id=person.id))
    if person.id == current_user.id:
        keep_signed_in(current_user)  # the admin's own other sessions end, not this one
    flash(
        f"Nova senha definida para {person.email}. As sessões abertas com a senha antiga foram encerradas.",
        "success",
    )
    return redirect(url_for("users.edit", user_id=person.id))


@bp.post("/usuarios/<int:user_id>/duas-etapas/desativar")
@requires("admin.security")
def disable_two_factor(user_id: int):
    """For someone who lost the phone and the recovery codes: they sign in with the password
    alone again (and enrol again, if the team requires it)."""
    person = tenancy.owned(User, user_id, "Usuário não encontrado.")
    try:
        two_factor.disable(person, actor=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("users.edit", user_id=person.id))
    flash(f"Verificação em duas etapas desativada para {person.email}.", "success")
    return redirect(url_for("users.edit", user_id=person.id))


@bp.route("/usuarios/seguranca", methods=["GET", "POST"])
@requires("admin.security")
def security():
    """Segurança: whether the team must sign in with a second factor, and who has one."""
    tenant = db.session.get(Tenant, current_user.tenant_id)
    error, status = None, 200
    if request.method == "POST":
        value = request.form.get("require_two_factor")
        try:
            if value not in (None, "1"):
                raise DomainError("Valor inválido para a exigência.", status=422, field="require_two_factor")
            changed = two_factor.set_requirement(tenant, value == "1", actor=current_user)
        except DomainError as error_raised:
            db.session.rollback()
            error, status = error_raised.message, error_raised.status
        else:
            if not changed:
                flash("Nada mudou.", "info")
            elif tenant.require_two_factor:
                flash("A equipe agora precisa da verificação em duas etapas para entrar.", "success")
            else:
                flash("A verificação em duas etapas deixou de ser exigida da equipe.", "success")
            return redirect(url_for("users.security"))
    page = render_template(
        "users/security.html", tenant=tenant, staff=two_factor.staff_overview(), error=error
    )
    return page, status


@bp.route("/usuarios/<int:user_id>/mesclar", methods=["GET", "POST"])
@requires("admin.users")
def merge(user_id: int):
    """Pick the account that stays, see what will move, confirm."""
    duplicate = tenancy.owned(User, user_id, "Usuário não encontrado.")
    email = (request.values.get("destino") or "").strip()
    if not email:
        return render_template("users/merge.html", duplicate=duplicate, email="", preview=None, error=None)
    survivor = user_service.find_user(email)
    try:
        if survivor is None:
            raise DomainError("Nenhuma conta com este e-mail.", field="survivor")
        if request.method == "POST":
            merge_service.merge(duplicate, survivor, actor=current_user)
            flash(f"Conta {duplicate.email} mesclada em {survivor.email}.", "success")
            return redirect(url_for("users.edit", user_id=survivor.id))
        preview = merge_service.preview(duplicate, survivor)
    except DomainError as error:
        return render_template(
            "users/merge.html", duplicate=duplicate, email=email, preview=None, error=error.message
        ), 422
    return render_template("users/merge.html", duplicate=duplicate, email=email, preview=preview, error=None)
