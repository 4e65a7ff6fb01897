"""Queues ("filas"). "Chamados" always exists: every path that needs a queue falls back to it.
Every lookup is the current tenant's (the tenant gate); `tenant_id` is for the rows created."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import DEFAULT_QUEUE_NAME, Queue, Ticket
from app.services import tenancy
from app.services.errors import Conflict, ValidationError

DEMO_QUEUES = (DEFAULT_QUEUE_NAME, "Infraestrutura", "Interno")


def ensure_queue(tenant_id: int, name: str) -> Queue:
    queue = db.session.scalar(select(Queue).where(Queue.name == name))
    if queue is not None:
        return queue
    queue = Queue(tenant_id=tenant_id, name=name)
    try:
        with db.session.begin_nested():
            db.session.add(queue)
    except IntegrityError:  # another request created it at the same moment
        queue = db.session.scalar(select(Queue).where(Queue.name == name))
    return queue


def existing_default_queue() -> Queue | None:
    """The "Chamados" queue if the tenant has it: what a page shows (a GET never creates it;
    the first ticket opened creates it, through resolve_queue)."""
    return db.session.scalar(select(Queue).where(Queue.name == DEFAULT_QUEUE_NAME))


def default_queue(tenant_id: int) -> Queue:
    """The "Chamados" queue of a tenant, created if it is missing."""
    return ensure_queue(tenant_id, DEFAULT_QUEUE_NAME)


def resolve_queue(tenant_id: int, queue_id: int | None) -> Queue:
    """The queue asked for if it belongs to the tenant, otherwise "Chamados"."""
    if queue_id:
        queue = db.session.get(Queue, queue_id)
        # A check on the row, not a filter: get() may answer from the identity map, past the gate.
        if queue is not None and queue.tenant_id == tenant_id:
            return queue
    return default_queue(tenant_id)


def ensure_default_queues() -> list[Queue]:
    """Make sure every tenant has "Chamados"; used by `flask queues ensure`."""
    return tenancy.for_each_tenant(lambda tenant: default_queue(tenant.id))


def list_queues() -> list[Queue]:
    return list(db.session.scalars(select(Queue).order_by(Queue.name)))


def _clean_queue_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Informe o nome da fila.", field="name")
    if len(name) > 80:
        raise ValidationError("O nome pode ter no máximo 80 caracteres.", field="name")
    return name


def _check_name_free(name: str, except_id: int | None = None) -> None:
    query = select(Queue.id).where(Queue.name == name)
    if except_id:
        query = query.where(Queue.id != except_id)
    if db.session.scalar(query) is not None:
        raise ValidationError("Já existe uma fila com este nome.", field="name")


def create_queue(tenant_id: int, name: str) -> Queue:
    name = _clean_queue_name(name)
    _check_name_free(name)
    queue = Queue(tenant_id=tenant_id, name=name)
    db.session.add(queue)
    db.session.flush()
    return queue


def rename_queue(queue: Queue, name: str) -> None:
    name = _clean_queue_name(name)
    if queue.is_default and name != queue.name:
        raise ValidationError("A fila “Chamados” é a padrão e não pode ser renomeada.", field="name")
    if name != queue.name:
        _check_name_free(name, except_id=queue.id)
        queue.name = name
        db.session.flush()


def delete_queue(queue: Queue) -> None:
    if queue.is_default:
        raise Conflict("A fila “Chamados” não pode ser excluída.")
    if db.session.scalar(select(Ticket.id).where(Ticket.queue_id == queue.id).limit(1)) is not None:
        raise Conflict("A fila tem chamados; mova-os para outra fila antes de excluir.")
    db.session.delete(queue)
    db.session.flush()
