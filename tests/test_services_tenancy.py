"""The tenant gate: inside a tenant's scope every ORM query sees only that tenant's rows,
without a filter written anywhere; an anonymous request may read no tenant's rows at all."""

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Company, Queue, Ticket, User
from app.services import tenancy
from app.services.errors import NotFound
from tests.conftest import make_user


@pytest.fixture
def two_tenants(tenant, other_tenant):
    ours = Company(tenant_id=tenant.id, name="Nossa", apelido="nossa")
    theirs = Company(tenant_id=other_tenant.id, name="Deles", apelido="deles")
    db.session.add_all([ours, theirs])
    db.session.commit()
    return ours, theirs


def test_every_kind_of_query_sees_only_the_current_tenant(tenant, two_tenants):
    ours, theirs = two_tenants
    with tenancy.scope(tenant.id):
        assert db.session.scalars(select(Company)).all() == [ours]
        assert db.session.execute(select(Company.apelido)).scalars().all() == ["nossa"]
        assert db.session.scalar(select(func.count()).select_from(Company)) == 1
        assert db.session.get(Company, theirs.id) is None or theirs in db.session  # identity map aside
        renamed = db.session.execute(
            update(Company).values(name="Renomeada").execution_options(synchronize_session=False)
        )
        assert renamed.rowcount == 1
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Company, theirs.id).name == "Deles"  # outside the scope: untouched


def test_a_fresh_session_cannot_get_another_tenants_row_by_id(app, tenant, two_tenants):
    ours_id, theirs_id, tenant_id = two_tenants[0].id, two_tenants[1].id, tenant.id
    db.session.remove()
    with tenancy.scope(tenant_id):
        assert db.session.get(Company, theirs_id) is None
        with pytest.raises(NotFound):
            tenancy.owned(Company, theirs_id)
        assert tenancy.owned(Company, ours_id).apelido == "nossa"


def test_joins_and_subqueries_are_scoped_too(tenant, other_tenant, two_tenants):
    make_user(other_tenant, email="deles@example.com", company=two_tenants[1])
    tenant_id = tenant.id
    db.session.remove()
    with tenancy.scope(tenant_id):
        joined = select(User.email).join(Company, Company.id == User.company_id)
        assert db.session.scalars(joined).all() == []
        in_subquery = select(Company.id).where(Company.id.in_(select(User.company_id)))
        assert db.session.scalars(in_subquery).all() == []
    assert db.session.scalars(select(User.email)).all() == ["deles@example.com"]  # outside: all


def test_an_anonymous_request_reading_a_tenants_rows_is_an_error(tenant, queue):
    with tenancy.scope(tenancy.NO_TENANT):
        with pytest.raises(tenancy.TenantScopeMissing):
            db.session.scalars(select(Queue)).all()
        with pytest.raises(tenancy.TenantScopeMissing):
            db.session.scalar(select(func.count()).select_from(Ticket))
        with tenancy.all_tenants("the test's own reason"):
            assert db.session.scalars(select(Queue)).all() == [queue]


def test_the_way_out_needs_a_reason():
    with pytest.raises(AssertionError):
        tenancy.all_tenants("")


def test_a_statement_may_say_it_looks_across_tenants(tenant, queue):
    across = select(Queue).execution_options(all_tenants="the test's own reason")
    with tenancy.scope(tenancy.NO_TENANT):
        assert db.session.scalars(across).all() == [queue]
    with tenancy.scope(tenant.id + 1):
        assert db.session.scalars(across).all() == [queue]
        assert db.session.scalars(select(Queue)).all() == []


def test_requests_are_scoped_to_the_signed_in_person_or_to_nobody(app, tenant, other_tenant):
    from flask_login import login_user

    theirs = make_user(other_tenant, email="deles@example.com")
    with app.test_request_context("/"):
        tenancy.enter_request_scope()
        assert tenancy.current_scope() == tenancy.NO_TENANT
        tenancy.enter(other_tenant.id)  # a device's token, checked: its tenant from here on
        assert tenancy.current_scope() == other_tenant.id
    with app.test_request_context("/"):
        login_user(theirs)
        tenancy.enter_request_scope()
        assert tenancy.current_scope() == other_tenant.id
        tenancy.enter(tenant.id)  # never swaps a signed-in person's tenant
        assert tenancy.current_scope() == other_tenant.id
    with tenancy.all_tenants("a job"):
        tenancy.enter(tenant.id)  # outside a request: the scope chosen stays
        assert tenancy.current_scope() == tenancy.ALL_TENANTS


def test_a_request_without_a_session_cookie_never_asks_who_is_signed_in(app, register_device, monkeypatch):
    """A heartbeat has no cookie: the scope must not ask Flask-Login, which reads the session
    (and marks it accessed) on the hottest path of all."""
    _body, auth = register_device()
    asked = []
    load_user = app.login_manager._load_user
    monkeypatch.setattr(app.login_manager, "_load_user", lambda: (asked.append(1), load_user())[1])
    response = app.test_client().post("/api/machines/heartbeat", json={}, headers=auth)
    assert response.status_code == 200 and asked == []
