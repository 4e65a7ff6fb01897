"""A user's ticket list as they set it up: the default filter ("Salvar como padrão"), named
views ("Minhas visões", with how many tickets each shows) and the columns shown ("Colunas").

All of it is stored on the server, so it follows the user to any browser. Queries
are re-parsed before they are stored: only canonical, valid filters are kept.
"""

from collections.abc import Iterable
from urllib.parse import parse_qsl

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import SavedView, User
from app.services.errors import NotFound, ValidationError
from app.services.ticket_filters import FilterError, parse_filters
from app.services.ticket_pages import TicketCount, count_tickets

DEFAULT_KEY = "ticket_filter_default"
COLUMNS_KEY = "ticket_columns"
MAX_VIEWS = 30

# The list's optional columns, in the order shown (Nº and Assunto always show).
COLUMNS = {
    "status": "Status",
    "prioridade": "Prioridade",
    "fila": "Fila",
    "empresa": "Empresa",
    "solicitante": "Solicitante",
    "responsavel": "Responsável",
    "tempo": "Tempo",
    "criado": "Criado em",
    "atualizado": "Atualizado",
}
# What a person who never chose sees: what fits beside a readable subject at 1440 px.
DEFAULT_COLUMNS = ("status", "prioridade", "fila", "empresa", "solicitante", "responsavel", "atualizado")


def canonical_query(user: User, query: str) -> str:
    args = MultiDict(parse_qsl(query.lstrip("?"), keep_blank_values=False))
    return parse_filters(args, user.tenant_id).query_string()


def default_query(user: User) -> str | None:
    return (user.preferences or {}).get(DEFAULT_KEY) or None


def _set_preference(user: User, key: str, value) -> bool:
    preferences = dict(user.preferences or {})
    if preferences.get(key) == value:
        return False  # never write what did not change
    if value is None:
        preferences.pop(key, None)
    else:
        preferences[key] = value
    user.preferences = preferences  # a new dict, so SQLAlchemy sees the change
    db.session.flush()
    return True


def save_default(user: User, query: str) -> str:
    query = canonical_query(user, query)
    _set_preference(user, DEFAULT_KEY, query or None)
    return query


def clear_default(user: User) -> None:
    _set_preference(user, DEFAULT_KEY, None)


def list_views(user: User) -> list[SavedView]:
    return list(
        db.session.scalars(select(SavedView).where(SavedView.user_id == user.id).order_by(SavedView.name))
    )


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Dê um nome à visão.", field="name")
    if len(name) > 80:
        raise ValidationError("O nome pode ter no máximo 80 caracteres.", field="name")
    return name


def _name_taken(user: User, name: str, except_id: int | None = None) -> bool:
    query = select(SavedView.id).where(SavedView.user_id == user.id, SavedView.name == name)
    if except_id:
        query = query.where(SavedView.id != except_id)
    return db.session.scalar(query) is not None


def create_view(user: User, name: str, query: str) -> SavedView:
    name = _clean_name(name)
    if _name_taken(user, name):
        raise ValidationError("Você já tem uma visão com este nome.", field="name")
    if len(list_views(user)) >= MAX_VIEWS:
        raise ValidationError(f"Limite de {MAX_VIEWS} visões atingido.", field="name")
    view = SavedView(user_id=user.id, name=name, query=canonical_query(user, query))
    db.session.add(view)
    db.session.flush()
    return view


def get_view(user: User, view_id: int) -> SavedView:
    view = db.session.get(SavedView, view_id)
    if view is None or view.user_id != user.id:
        raise NotFound("Visão não encontrada.")
    return view


def rename_view(user: User, view_id: int, name: str) -> SavedView:
    view = get_view(user, view_id)
    name = _clean_name(name)
    if view.name != name:
        if _name_taken(user, name, except_id=view.id):
            raise ValidationError("Você já tem uma visão com este nome.", field="name")
        view.name = name
        db.session.flush()
    return view


def delete_view(user: User, view_id: int) -> None:
    db.session.delete(get_view(user, view_id))
    db.session.flush()


# --- how many tickets each view shows -------------------------------------------------


def view_counts(user: User, views: Iterable[SavedView], timezone: str) -> dict[int, TicketCount | None]:
    """The count beside each view (None for a view whose filter no longer parses: a deleted
    queue...). Each is `count_tickets`, capped at COUNT_CAP + 1 rows, and views with the same
    query are counted once, so 30 views cost at most 30 small bounded queries."""
    by_query: dict[str, TicketCount | None] = {}
    counts = {}
    for view in views:
        if view.query not in by_query:
            args = MultiDict(parse_qsl(view.query, keep_blank_values=False))
            try:
                by_query[view.query] = count_tickets(user, parse_filters(args, user.tenant_id), timezone)
            except FilterError:
                by_query[view.query] = None
        counts[view.id] = by_query[view.query]
    return counts


# --- the columns shown ------------------------------------------------------------------


def list_columns(user: User) -> list[str]:
    """The optional columns this person shows, in display order."""
    chosen = (user.preferences or {}).get(COLUMNS_KEY)
    if not isinstance(chosen, list):
        return list(DEFAULT_COLUMNS)
    return [key for key in COLUMNS if key in chosen]


def save_columns(user: User, keys: Iterable[str]) -> list[str]:
    """Keep the chosen columns (unknown keys dropped); the default set is stored as nothing."""
    chosen = [key for key in COLUMNS if key in set(keys)]
    _set_preference(user, COLUMNS_KEY, None if chosen == list(DEFAULT_COLUMNS) else chosen)
    return chosen
