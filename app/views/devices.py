"""Dispositivos: the device list and the device page."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.devices import admin, alerts, online, read_models, usb
from app.devices import external_inventory as inventory_service
from app.devices.inventory import diff_inventories, latest_inventory
from app.extensions import db
from app.models import Machine, Persona, Tenant, UsbPolicy, UsbPolicyMode
from app.security import requires, staff_required
from app.services import tenancy
from app.services.errors import DomainError
from app.services.permissions import DEFAULT_PERSONA
from app.services.ticket_filters import company_choices
from app.views.errors import flash_refusal
from app.views.forms import query_number
from app.views.template_helpers import is_fragment_request

bp = Blueprint("devices", __name__)


@bp.get("/dispositivos")
@staff_required
def index():
    tenant_id = current_user.tenant_id
    after = query_number("apos")
    filters = read_models.parse_device_filters(request.args, tenant_id)
    rows, next_after = read_models.list_devices(filters, after)
    context = {
        "rows": rows,
        "next_after": next_after,
        "filters": filters,
        "states": read_models.STATES,
        "companies": company_choices(),
        "is_online": online.is_online,
        "format_os": read_models.format_os_version,
    }
    if is_fragment_request() and request.headers.get("HX-Target") == "device-results":
        return render_template("devices/_results.html", **context)
    return render_template("devices/index.html", **context)


@bp.get("/dispositivos/inventario-externo")
@requires("devices.manage")
def external_inventory():
    return _render_external_inventory()


@bp.post("/dispositivos/inventario-externo/credenciais")
@requires("devices.manage")
def external_inventory_credentials():
    tenant = db.session.get(Tenant, current_user.tenant_id)
    if request.form.get("action") == "clear":
        inventory_service.clear_credentials(tenant)
        flash("Autenticação do inventário desativada: os agentes enviam sem usuário e senha.", "success")
        return redirect(url_for("devices.external_inventory"))
    try:
        inventory_service.set_credentials(
            tenant, request.form.get("username", ""), request.form.get("password", "")
        )
    except DomainError as error:
        return _render_external_inventory(error=error, username=request.form.get("username", "")), 422
    flash("Usuário e senha do inventário salvos. Configure os agentes com --user e --password.", "success")
    return redirect(url_for("devices.external_inventory"))


def _render_external_inventory(error: DomainError | None = None, username: str | None = None):
    tenant = db.session.get(Tenant, current_user.tenant_id)
    return render_template(
        "devices/external_inventory.html",
        tenant=tenant,
        companies=inventory_service.companies_with_codes(),
        error=error,
        username=tenant.inventory_username if username is None else username,
    )


@bp.get("/dispositivos/<int:machine_id>")
@staff_required
def show(machine_id: int):
    machine = tenancy.owned(Machine, machine_id, "Dispositivo não encontrado.")
    context = _page_context(machine)
    if is_fragment_request() and request.headers.get("HX-Target") == "software-table":
        return render_template("devices/_software.html", **context)
    return render_template("devices/show.html", **context)


@bp.post("/dispositivos/<int:machine_id>/descricao")
@requires("devices.describe")
def describe(machine_id: int):
    machine = tenancy.owned(Machine, machine_id, "Dispositivo não encontrado.")
    typed = {key: request.form.get(key, "") for key in ("display_name", "notes")}
    try:
        changed = admin.describe_device(machine, typed["display_name"], typed["notes"])
    except DomainError as error:
        db.session.rollback()
        # The page again, with the message beside the field and what was typed.
        context = _page_context(machine, describe_error=error, describe_values=typed)
        return render_template("devices/show.html", **context), error.status
    flash("Nome e observações salvos." if changed else "Nada mudou.", "success" if changed else "info")
    return redirect(url_for("devices.show", machine_id=machine_id))


def _page_context(machine: Machine, **extra) -> dict:
    snapshot = latest_inventory(machine)
    previous = latest_inventory(machine, before=1)
    inventory = snapshot.inventory if snapshot else {}
    software_filter = request.args.get("software", "").strip().lower()
    software = [
        s
        for s in inventory.get("software") or []
        if not software_filter or software_filter in (s.get("name") or "").lower()
    ]
    context = {
        "machine": machine,
        "inventory": inventory,
        "snapshot": snapshot,
        "changes": diff_inventories(previous.inventory, inventory) if previous else None,
        "software": software[:500],
        "software_total": len(inventory.get("software") or []),
        "software_filter": software_filter,
        "chart": read_models.chart_points(machine.id),
        "last_seen": read_models.last_seen(machine),
        "online": online.is_online(read_models.last_seen(machine)),
        "os_label": read_models.format_os_version(machine.os_name, machine.os_version, machine.os_build),
        "usb_policy": db.session.get(UsbPolicy, machine.id),
        "usb_modes": list(UsbPolicyMode),
        "personas": list(Persona),
        "alert_labels": alerts.ALERT_LABELS,
        **read_models.device_detail(machine),
        **extra,
    }
    context["disks"] = read_models.disk_usage(
        inventory, snapshot.created_at if snapshot else None, context["latest_free"]
    )
    return context


def _act(machine_id: int, action, success: str):
    machine = tenancy.owned(Machine, machine_id, "Dispositivo não encontrado.")
    try:
        action(machine)
    except DomainError as error:
        flash_refusal(error.message)
    else:
        flash(success, "success")
    return redirect(url_for("devices.show", machine_id=machine_id))


@bp.post("/dispositivos/<int:machine_id>/resetar")
@requires("devices.manage")
def reset(machine_id: int):
    return _act(
        machine_id,
        admin.reset_agent,
        "Agente resetado: os tokens foram revogados. Reinstale o agente para voltar a reportar.",
    )


@bp.post("/dispositivos/<int:machine_id>/acesso")
@requires("devices.manage")
def adjust_access(machine_id: int):
    email, persona = request.form.get("email", ""), request.form.get("persona", DEFAULT_PERSONA)
    return _act(machine_id, lambda m: admin.adjust_access(m, email, persona), "Acesso ajustado.")


@bp.post("/dispositivos/<int:machine_id>/vinculos")
@requires("devices.manage")
def link(machine_id: int):
    email = request.form.get("email", "")
    return _act(machine_id, lambda m: admin.link_user(m, email), "Usuário vinculado.")


@bp.post("/dispositivos/<int:machine_id>/vinculos/<int:user_id>/remover")
@requires("devices.manage")
def unlink(machine_id: int, user_id: int):
    return _act(machine_id, lambda m: admin.unlink_user(m, user_id), "Vínculo removido.")


@bp.post("/dispositivos/<int:machine_id>/usb")
@requires("devices.manage")
def usb_policy(machine_id: int):
    mode = request.form.get("mode", "")
    return _act(
        machine_id,
        lambda m: usb.set_usb_policy(m, mode, current_user),
        "Política USB enviada; aguardando confirmação do agente.",
    )


@bp.post("/dispositivos/<int:machine_id>/ativo")
@requires("devices.manage")
def toggle_active(machine_id: int):
    active = request.form.get("active") == "1"

    def apply(machine):
        machine.is_active = active

    return _act(machine_id, apply, "Dispositivo reativado." if active else "Dispositivo desativado.")
