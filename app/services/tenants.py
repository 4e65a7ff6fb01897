"""Tenants: the support organisations."""

import re

from sqlalchemy import select

from app.extensions import db
from app.models import Tenant
from app.services import tenancy
from app.services.errors import ValidationError
from app.services.queues import default_queue

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,58}[a-z0-9]$")


def create_tenant(key: str, name: str) -> Tenant:
    key = (key or "").strip().lower()
    name = " ".join((name or "").split())
    if not KEY_PATTERN.match(key):
        raise ValidationError("Use de 3 a 60 letras minúsculas, números ou hífens.", field="key")
    if not name:
        raise ValidationError("Informe o nome.", field="name")
    if db.session.scalar(select(Tenant).where(Tenant.key == key)) is not None:
        raise ValidationError("Já existe um tenant com esta chave.", field="key")
    tenant = Tenant(key=key, name=name)
    db.session.add(tenant)
    db.session.flush()
    with tenancy.scope(tenant.id):  # its first queue, among its own rows
        default_queue(tenant.id)
    return tenant
