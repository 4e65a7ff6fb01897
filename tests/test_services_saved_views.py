import pytest

from app.extensions import db
from app.models import SavedView, TicketStatus
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


# --- columns and counts ------------------------------------------------------------------


def test_columns_are_kept_per_person_in_display_order(agent_user, tenant):
    assert saved_views.list_columns(agent_user) == list(saved_views.DEFAULT_COLUMNS)
    assert saved_views.save_columns(agent_user, ["criado", "tempo", "nada", "status"]) == [
        "status",
        "tempo",
        "criado",
    ]
    db.session.expire_all()
    assert saved_views.list_columns(agent_user) == ["status", "tempo", "criado"]
    assert agent_user.preferences["ticket_columns"] == ["status", "tempo", "criado"]
    someone_else = make_user(tenant, email="outro@acme.test")
    assert saved_views.list_columns(someone_else) == list(saved_views.DEFAULT_COLUMNS)
    saved_views.save_columns(agent_user, [])  # every optional column off: Nº and Assunto stay
    assert saved_views.list_columns(agent_user) == []
    saved_views.save_columns(agent_user, saved_views.DEFAULT_COLUMNS)  # back to the default: nothing kept
    assert "ticket_columns" not in agent_user.preferences


def test_view_counts_are_capped_and_each_query_counted_once(agent_user, tenant, make_ticket, monkeypatch):
    from app.services import ticket_pages

    for i in range(4):
        make_ticket(f"P{i}")
    make_ticket("Pausado", status=TicketStatus.PAUSED)
    pending = saved_views.create_view(agent_user, "Pendentes", "status=PENDING")
    again = saved_views.create_view(agent_user, "De novo", "status=PENDING")
    paused = saved_views.create_view(agent_user, "Pausados", "status=PAUSED")
    broken = SavedView(user_id=agent_user.id, name="Fila apagada", query="fila=424242")
    db.session.add(broken)
    db.session.commit()
    counted = []
    real = ticket_pages.count_tickets
    monkeypatch.setattr(saved_views, "count_tickets", lambda *a: counted.append(1) or real(*a))
    monkeypatch.setattr(ticket_pages, "COUNT_CAP", 3)
    counts = saved_views.view_counts(agent_user, saved_views.list_views(agent_user), "America/Sao_Paulo")
    assert (counts[pending.id].total, counts[pending.id].capped) == (3, True)
    assert counts[again.id] is counts[pending.id]
    assert (counts[paused.id].total, counts[paused.id].capped) == (1, False)
    assert counts[broken.id] is None
    assert len(counted) == 2  # Pendentes and Pausados; the copy and the broken one cost nothing more
