"""Queues ("filas"). "Chamados" always exists: every path that needs a queue falls back to it."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import DEFAULT_QUEUE_NAME, Queue, Tenant

DEMO_QUEUES = (DEFAULT_QUEUE_NAME, "Infraestrutura", "Interno")


def ensure_queue(tenant_id: int, name: str) -> Queue:
    queue = db.session.scalar(select(Queue).where(Queue.tenant_id == tenant_id, Queue.name == name))
    if queue is not None:
        return queue
    queue = Queue(tenant_id=tenant_id, name=name)
    try:
        with db.session.begin_nested():
            db.session.add(queue)
    except IntegrityError:  # another request created it at the same moment
        queue = db.session.scalar(select(Queue).where(Queue.tenant_id == tenant_id, Queue.name == name))
    return queue


def default_queue(tenant_id: int) -> Queue:
    """The "Chamados" queue of a tenant, created if it is missing."""
    return ensure_queue(tenant_id, DEFAULT_QUEUE_NAME)


def resolve_queue(tenant_id: int, queue_id: int | None) -> Queue:
    """The queue asked for if it belongs to the tenant, otherwise "Chamados"."""
    if queue_id:
        queue = db.session.get(Queue, queue_id)
        if queue is not None and queue.tenant_id == tenant_id:
            return queue
    return default_queue(tenant_id)


def ensure_default_queues() -> list[Queue]:
    """Make sure every tenant has "Chamados"; used by `flask queues ensure`."""
    return [default_queue(tenant.id) for tenant in db.session.scalars(select(Tenant))]


def list_queues(tenant_id: int) -> list[Queue]:
    return list(db.session.scalars(select(Queue).where(Queue.tenant_id == tenant_id).order_by(Queue.name)))
