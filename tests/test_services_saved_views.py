import pytest

from app.extensions import db
from app.models import SavedView
from app.services import saved_views
from app.services.errors import NotFound, ValidationError
from app.services.ticket_filters import FilterError
from tests.conftest import make_user


def test_default_is_stored_canonical_and_cleared(agent_user):
    assert saved_views.save_default(agent_user, "?status=PENDING&fila=&q=+impressora+") == (
        "status=PENDING&q=impressora"
    )
    assert saved_views.default_query(agent_user) == "status=PENDING&q=impressora"
    saved_views.clear_default(agent_user)
    assert saved_views.default_query(agent_user) is None


def test_saving_the_same_default_writes_nothing(agent_user, monkeypatch):
    saved_views.save_default(agent_user, "status=PAUSED")
    commits = []
    monkeypatch.setattr(db.session, "commit", lambda: commits.append(1))
    saved_views.save_default(agent_user, "status=PAUSED")
    assert commits == []


def test_invalid_default_is_refused(agent_user):
    with pytest.raises(FilterError):
        saved_views.save_default(agent_user, "responsavel=424242")


def test_named_views_life_cycle(agent_user, tenant):
    view = saved_views.create_view(agent_user, "  Urgentes  ", "prioridade=URGENT")
    assert (view.name, view.query) == ("Urgentes", "prioridade=URGENT")
    with pytest.raises(ValidationError, match="já tem uma visão"):
        saved_views.create_view(agent_user, "Urgentes", "")
    saved_views.rename_view(agent_user, view.id, "Só urgentes")
    assert [v.name for v in saved_views.list_views(agent_user)] == ["Só urgentes"]
    someone_else = make_user(tenant, email="outro@acme.test")
    with pytest.raises(NotFound):
        saved_views.delete_view(someone_else, view.id)
    saved_views.delete_view(agent_user, view.id)
    assert db.session.query(SavedView).count() == 0
