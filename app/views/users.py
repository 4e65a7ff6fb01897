"""Admin ▸ Usuários: people and, with the type filter, devices."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.devices.people import machines_of_user
from app.extensions import db
from app.models import Machine, Persona, Role, User
from app.security import requires
from app.services import merge as merge_service
from app.services import tenancy
from app.services import users as user_service
from app.services.companies import list_companies
from app.services.errors import DomainError
from app.services.numbers import record_number
from app.services.permissions import DEFAULT_PERSONA
from app.views.errors import flash_refusal

bp = Blueprint("users", __name__)

MAX_DEVICES = 200


@bp.get("/usuarios")
@requires("admin.users")
def index():
    kind = request.args.get("tipo", "todos")
    kind = kind if kind in user_service.PERSON_TYPES else "todos"
    search = request.args.get("q", "").strip()
    people = user_service.list_people(current_user.tenant_id, search) if kind != "dispositivos" else []
    devices = []
    if kind != "pessoas":
        query = select(Machine).where(Machine.tenant_id == current_user.tenant_id)
        if search:
            query = query.where(db.func.lower(Machine.hostname).like(f"%{search.lower()}%"))
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
        "companies": list_companies(current_user.tenant_id),
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
    flash(f"Nova senha definida para {person.email}.", "success")
    return redirect(url_for("users.edit", user_id=person.id))


@bp.route("/usuarios/<int:user_id>/mesclar", methods=["GET", "POST"])
@requires("admin.users")
def merge(user_id: int):
    """Pick the account that stays, see what will move, confirm."""
    duplicate = tenancy.owned(User, user_id, "Usuário não encontrado.")
    email = (request.values.get("destino") or "").strip()
    if not email:
        return render_template("users/merge.html", duplicate=duplicate, email="", preview=None, error=None)
    survivor = user_service.find_user(current_user.tenant_id, email)
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
