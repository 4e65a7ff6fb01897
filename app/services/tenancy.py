"""The tenant gate: every ORM query in a request, a job or a CLI command sees only the current
tenant's rows, and no query writes that filter itself (tests/test_services_tenancy.py fails on one).

Models that inherit TenantOwned (app/models/tenancy.py) declare it once. A listener on every
ORM execution adds `tenant_id = <current tenant>` for each of them in the statement (joins,
subqueries, UPDATE and DELETE included), so a forgotten filter cannot leak a client's data.

The scope of the work at hand:
- a request: its signed-in person's tenant (`enter_request_scope`, before every view); a
  device's tenant once its token is checked (`enter`); an anonymous request may read no
  tenant's rows at all, and trying is an error (`TenantScopeMissing`), not an empty answer;
- a job (jobs/runner.run_job) and a CLI command (app/cli.ScopedCommand): they start in no
  tenant, like an anonymous request, and then go tenant by tenant (`for_each_tenant`), work
  in the one tenant they know (`scope(tenant_id)`), or look across tenants and say why;
- the way out, for the few places that must look across tenants (a login by e-mail, a company
  code, the outbox, retention): `with all_tenants("why"):`, or, for a statement built once at
  import (the token check), `.execution_options(all_tenants="why")` — greppable.
Statements that do not go through the ORM session (app/db_direct.py) write their own criterion.
Only the test suite's own set-up code, `flask shell` and `flask db` run unscoped: nothing is added.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from functools import cache
from typing import TypeVar

from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_login import current_user
from sqlalchemy import event, select
from sqlalchemy.orm import Session, with_loader_criteria
from sqlalchemy.sql import visitors

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.tenant import Tenant
from app.services.errors import NotFound

ALL_TENANTS = "all"  # the explicit way out
NO_TENANT = "none"  # no tenant known yet (an anonymous request, a job, a CLI command)
_SCOPE = "tenant_scope"
T = TypeVar("T")


class TenantScopeMissing(RuntimeError):
    """Code read a tenant's rows where no tenant is known (say which, or use all_tenants)."""


def current_scope():
    """The tenant id, ALL_TENANTS, NO_TENANT, or None outside any request or job."""
    return g.get(_SCOPE) if has_app_context() else None


def enter(tenant_id: int) -> None:
    """From here to the end of this anonymous request, work in `tenant_id`'s rows (a device's,
    once its token or company code is checked). Anywhere else it changes nothing: a signed-in
    person's scope is not swapped, and a job or CLI command keeps the scope it chose."""
    if has_request_context() and g.get(_SCOPE) == NO_TENANT:
        setattr(g, _SCOPE, tenant_id)


@contextmanager
def scope(tenant_id):
    """Work in one tenant's rows for a block (a job or a CLI command that knows its tenant)."""
    previous = g.get(_SCOPE)
    setattr(g, _SCOPE, tenant_id)
    try:
        yield
    finally:
        setattr(g, _SCOPE, previous)


def all_tenants(reason: str):
    """The way out of the gate, for code that must look across tenants; `reason` says why."""
    assert reason, "say why the gate is opened"
    return scope(ALL_TENANTS)


def for_each_tenant(work: Callable[[Tenant], T]) -> list[T]:
    """`work(tenant)` for every tenant in turn, each inside that tenant's scope: how a job or a
    CLI command does per-tenant work. Returns what each call returned, in tenant id order."""
    results = []
    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.id)).all():
        with scope(tenant.id):
            results.append(work(tenant))
    return results


def in_another_tenant(tenant_id: int) -> bool:
    """Whether the work at hand is scoped to one tenant other than `tenant_id` (a request signed in
    to another tenant, whose scope `enter` never swaps)."""
    return current_scope() not in (tenant_id, ALL_TENANTS, NO_TENANT, None)


def enter_request_scope() -> None:
    """Before every view: the signed-in person's tenant, or no tenant at all.

    Without a session cookie nor a "Lembrar-me" cookie nobody is signed in (every device API
    call): asking Flask-Login would read the session, mark it accessed and cost each heartbeat the
    cookie work. A browser reopened after its session cookie is gone sends only the "Lembrar-me"
    cookie: Flask-Login signs the person in from it here, before any tenant's rows are read."""
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if not session and remember_cookie not in request.cookies:
        setattr(g, _SCOPE, NO_TENANT)
        return
    setattr(g, _SCOPE, current_user.tenant_id if current_user.is_authenticated else NO_TENANT)


def owned(model, record_id: int | None, message: str = "Registro não encontrado."):
    """The row of `model` with this id in the current tenant, or NotFound (404)."""
    row = db.session.get(model, record_id) if record_id is not None else None
    if row is None:
        raise NotFound(message)
    return row


@cache
def _tenant_owned_tables() -> frozenset:
    return frozenset(
        mapper.local_table for mapper in db.Model.registry.mappers if issubclass(mapper.class_, TenantOwned)
    )


def _touches_tenant_rows(state) -> bool:
    """Whether the statement reads a tenant-owned table anywhere (only asked in anonymous
    requests, so walking the whole statement costs nothing where it matters)."""
    owned_tables = _tenant_owned_tables()
    return any(element in owned_tables for element in visitors.iterate(state.statement))


@event.listens_for(Session, "do_orm_execute")
def _scope_to_the_tenant(state) -> None:
    if state.is_column_load:
        return  # an expired attribute of a row already read (in scope) is being refreshed
    if state.execution_options.get("all_tenants"):
        return  # a statement that looks across tenants by design, and says why
    current = current_scope()
    if current is None or current == ALL_TENANTS:
        return
    if current == NO_TENANT:
        if _touches_tenant_rows(state):
            raise TenantScopeMissing(
                "A tenant's rows were read where no tenant is known (an anonymous request, a job, a "
                "CLI command): enter() or scope() the tenant once it is known, for_each_tenant() for "
                "per-tenant work, or all_tenants('why') where looking across tenants is the point."
            )
        return
    tenant_id = current
    # The one criterion written by hand: the gate's own, for every TenantOwned model at once.
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )
