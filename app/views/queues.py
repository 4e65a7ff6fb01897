"""Admin ▸ Filas."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import Queue
from app.security import requires
from app.services import queues as queue_service
from app.services import tenancy
from app.services.errors import DomainError
from app.views.errors import flash_refusal

bp = Blueprint("queues", __name__)


@bp.get("/filas")
@requires("admin.queues")
def index():
    return render_template("queues/index.html", queues=queue_service.list_queues())


def _run(action, success: str):
    try:
        action()
    except DomainError as error:
        flash_refusal(error.message)
    else:
        flash(success, "success")
    return redirect(url_for("queues.index"))


@bp.post("/filas")
@requires("admin.queues")
def create():
    name = request.form.get("name", "")
    return _run(lambda: queue_service.create_queue(current_user.tenant_id, name), "Fila criada.")


@bp.post("/filas/<int:queue_id>/renomear")
@requires("admin.queues")
def rename(queue_id: int):
    queue = tenancy.owned(Queue, queue_id, "Fila não encontrada.")
    return _run(lambda: queue_service.rename_queue(queue, request.form.get("name", "")), "Fila renomeada.")


@bp.post("/filas/<int:queue_id>/excluir")
@requires("admin.queues")
def delete(queue_id: int):
    queue = tenancy.owned(Queue, queue_id, "Fila não encontrada.")
    return _run(lambda: queue_service.delete_queue(queue), "Fila excluída.")
