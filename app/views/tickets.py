"""Staff ticket workspace: list with filters and saved views, new ticket, ticket page."""

from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.chat import read_models as chat_service
from app.extensions import db
from app.models import Attachment, CommentVisibility, Ticket, TicketPriority
from app.security import current_user_can, staff_required
from app.services import canned_replies, saved_views, ticket_bulk, ticket_merge, ticket_sidebar, timeline
from app.services import tickets as ticket_service
from app.services.errors import DomainError, ValidationError
from app.services.numbers import record_number
from app.services.permissions import visible_tickets
from app.services.queues import existing_default_queue, list_queues
from app.services.ticket_filters import (
    SORT_LABELS,
    UNASSIGNED,
    FilterError,
    TicketFilters,
    assignee_choices,
    company_choices,
    filter_chips,
    parse_filters,
    queue_choices,
)
from app.services.ticket_pages import count_tickets, list_tickets
from app.views.downloads import send_attachment
from app.views.errors import flash_refusal
from app.views.forms import uploaded_files
from app.views.template_helpers import is_fragment_request

bp = Blueprint("tickets", __name__)


def _timezone() -> str:
    return current_app.config["DEFAULT_TIMEZONE"]


def _list_context(filters, page=None, error=None, page_number=1) -> dict:
    queues, companies, assignees = queue_choices(), company_choices(), assignee_choices()
    return {
        "filters": filters,
        "page": page,
        "page_number": page_number,
        "error": error,
        "queues": queues,
        "companies": companies,
        "assignees": assignees,
        "chips": filter_chips(filters, queues, companies, assignees),
        "columns": saved_views.list_columns(current_user),
        "column_labels": saved_views.COLUMNS,
        "sort_labels": SORT_LABELS,
        "unassigned": UNASSIGNED,
        "priorities": list(TicketPriority),
        "views": saved_views.list_views(current_user),
        "default_query": saved_views.default_query(current_user),
    }


def _page_number(page) -> int:
    """Which page this is, as shown ("Página 3"). The list's pages are keyset pages, reached by
    ?cursor= (the rows after one) or ?antes= (the rows before one), with no offset to count them
    by: the links carry the number (?pagina=), and only the first page is known for sure."""
    if page.previous_cursor is None:
        return 1
    number = record_number(request.args.get("pagina")) or 2
    return max(number, 2)


@bp.get("/chamados")
@staff_required
def index():
    # No parameters at all: open the user's saved default, if any. The form always
    # sends "f=1", so "no filters" chosen on purpose stays unfiltered.
    if not request.args:
        default = saved_views.default_query(current_user)
        if default:
            return redirect(url_for("tickets.index") + "?f=1&" + default)
    try:
        filters = parse_filters(request.args, current_user.tenant_id)
        page = list_tickets(
            current_user, filters, request.args.get("cursor"), _timezone(), before=request.args.get("antes")
        )
    except FilterError as error:
        context = _list_context(TicketFilters(), error=error.message)
        template = "tickets/_results.html" if _wants_table() else "tickets/index.html"
        return render_template(template, **context), 400
    number = _page_number(page)
    context = _list_context(filters, page, page_number=number)
    if _wants_table():
        # Push the canonical URL (no empty fields) so the address bar stays short and shareable.
        url = _list_url(filters.query_string(), **_page_args(page, number))
        return render_template("tickets/_results.html", **context), {"HX-Push-Url": url}
    return render_template("tickets/index.html", **context)


def _page_args(page, number: int) -> dict:
    """This page's own cursor arguments, as the request gave them (the first page has none)."""
    if number == 1:
        return {}
    return {key: request.args[key] for key in ("cursor", "antes") if request.args.get(key)} | {
        "pagina": str(number)
    }


def _list_url(query: str, cursor: str | None = None, antes: str | None = None, pagina: str | None = None):
    url = url_for("tickets.index") + "?f=1" + (f"&{query}" if query else "")
    pages = [("cursor", cursor), ("antes", antes), ("pagina", pagina)]
    return url + "".join(f"&{key}={value}" for key, value in pages if value)


def _wants_table() -> bool:
    return is_fragment_request() and request.headers.get("HX-Target") == "ticket-results"


def _back_to_list(query: str):
    return redirect(_list_url(query))


def _views_panel(status: int = 200):
    return render_template(
        "tickets/_views.html",
        views=saved_views.list_views(current_user),
        default_query=saved_views.default_query(current_user),
        current_query=request.form.get("query", ""),
    ), status


@bp.get("/chamados/contagem")
@staff_required
def count():
    """The number of matching tickets, loaded by the list after it is shown."""
    filters = parse_filters(request.args, current_user.tenant_id)
    result = count_tickets(current_user, filters, _timezone())
    return render_template("tickets/_count.html", count=result)


@bp.get("/chamados/visoes/contagens")
@staff_required
def view_counts():
    """The saved views panel with how many tickets each view shows, loaded after the list."""
    views = saved_views.list_views(current_user)
    return render_template(
        "tickets/_views.html",
        views=views,
        view_counts=saved_views.view_counts(current_user, views, _timezone()),
        counting=True,
        default_query=saved_views.default_query(current_user),
    )


@bp.post("/chamados/colunas")
@staff_required
def save_columns():
    """Colunas: which of the list's columns this person sees, kept in their preferences."""
    saved_views.save_columns(current_user, request.form.getlist("coluna"))
    flash("Colunas salvas.", "success")
    return _back_to_list(saved_views.canonical_query(current_user, request.form.get("query", "")))


@bp.post("/chamados/padrao")
@staff_required
def save_default():
    query = saved_views.save_default(current_user, request.form.get("query", ""))
    flash("Filtro salvo como padrão.", "success")
    return _views_panel() if is_fragment_request() else _back_to_list(query)


@bp.post("/chamados/padrao/limpar")
@staff_required
def clear_default():
    saved_views.clear_default(current_user)
    flash("Filtro padrão removido.", "success")
    return _views_panel() if is_fragment_request() else _back_to_list("")


def _filter_fields_of_form() -> str:
    """The filter form's fields (sent along with hx-include) as a query string."""
    skip = {"name", "csrf_token", "query"}
    return urlencode([(k, v) for k, v in request.form.items(multi=True) if k not in skip and v])


@bp.post("/chamados/visoes")
@staff_required
def create_view():
    try:
        view = saved_views.create_view(current_user, request.form.get("name", ""), _filter_fields_of_form())
    except DomainError as error:
        flash_refusal(error.message)
        return _views_panel(422) if is_fragment_request() else _back_to_list(request.form.get("query", ""))
    flash(f"Visão “{view.name}” criada.", "success")
    return _views_panel() if is_fragment_request() else _back_to_list(view.query)


@bp.post("/chamados/visoes/<int:view_id>/renomear")
@staff_required
def rename_view(view_id: int):
    try:
        view = saved_views.rename_view(current_user, view_id, request.form.get("name", ""))
        flash(f"Visão renomeada para “{view.name}”.", "success")
        status = 200
    except DomainError as error:
        flash_refusal(error.message)
        status = error.status
    return _views_panel(status) if is_fragment_request() else _back_to_list("")


@bp.post("/chamados/visoes/<int:view_id>/excluir")
@staff_required
def delete_view(view_id: int):
    saved_views.delete_view(current_user, view_id)
    flash("Visão excluída.", "success")
    return _views_panel() if is_fragment_request() else _back_to_list("")


@bp.post("/chamados/em-massa")
@staff_required
def bulk():
    query = request.form.get("query", "")
    ids = [number for number in map(record_number, request.form.getlist("ticket")) if number]
    action, _, value = request.form.get("bulk", "").partition(":")
    try:
        result = ticket_bulk.bulk_update(
            current_user,
            ids,
            action,
            value,
            reason=request.form.get("reason", ""),
            message_html=request.form.get("message", ""),
        )
        flash(*result.message())
    except DomainError as error:
        flash_refusal(error.message)  # a ticket refused: none of them changes
    return _back_to_list(query)


# --- new ticket ---------------------------------------------------------------


def _form_choices() -> dict:
    return {
        "queues": list_queues(),
        "companies": company_choices(),
        "assignees": assignee_choices(),
        "priorities": list(TicketPriority),
    }


@bp.route("/chamados/novo", methods=["GET", "POST"])
@staff_required
def new():
    form = request.form
    if request.method == "GET":
        chamados = existing_default_queue()
        values = {"queue_id": str(chamados.id) if chamados else "", "priority": "MEDIUM"}
        return render_template("tickets/new.html", values=values, errors={}, **_form_choices())
    try:
        ticket = ticket_service.open_ticket_for(
            current_user,
            subject=form.get("subject", ""),
            description_html=form.get("description", ""),
            queue_id=_optional_int(form.get("queue_id")),
            priority=form.get("priority") or "MEDIUM",
            company_id=_optional_int(form.get("company_id")),
            requester_email=form.get("requester_email", ""),
            assignee_id=_optional_int(form.get("assignee_id")),
        )
    except DomainError as error:
        return render_template(
            "tickets/new.html", values=form, errors={error.field or "form": error.message}, **_form_choices()
        ), error.status
    flash(f"Chamado #{ticket.reference} aberto.", "success")
    return redirect(url_for("tickets.show", reference=ticket.reference))


def _optional_int(value: str | None) -> int | None:
    return record_number(value)


# --- ticket page --------------------------------------------------------------


def ticket_or_404(reference: int) -> Ticket:
    ticket = db.session.scalar(visible_tickets(current_user).where(Ticket.reference == reference))
    if ticket is None:
        abort(404)
    return ticket


def _ticket_context(ticket: Ticket) -> dict:
    order = timeline.order_of(current_user)
    return {
        "ticket": ticket,
        "timeline": timeline.timeline(
            ticket, include_internal=True, newest_first=order == timeline.NEWEST_FIRST
        ),
        "timeline_order": order,
        "timeline_orders": timeline.ORDERS,
        **_comment_form_context(),
        "ticket_files": ticket_service.ticket_attachments(ticket),
        "actions": ticket_service.allowed_actions(ticket),
        "describe_event": timeline.describe_event,
        "merged_with": timeline.merged_with,
        "merged_into": ticket_merge.merged_into(ticket),
        "format_duration": timeline.format_duration,
        **_form_choices(),
    }


def _comment_form_context() -> dict:
    """What the comment form needs besides the ticket: the respostas prontas of its menu."""
    if not current_user_can("tickets.canned_replies"):
        return {}
    return {"canned_replies": canned_replies.menu_replies()}


@bp.get("/chamados/<int:reference>")
@staff_required
def show(reference: int):
    ticket = ticket_or_404(reference)
    return render_template(
        "tickets/show.html",
        **_ticket_context(ticket),
        **chat_service.panel(ticket),
        sidebar=ticket_sidebar.sidebar(current_user, ticket),
    )


def _ticket_update(ticket: Ticket, *, editor_changed: bool = False, primary: str = "main"):
    """Answer an htmx change on the ticket page: the main panel, plus the timeline
    and (only when its state changed) the comment form, out of band."""
    if not is_fragment_request():
        return redirect(url_for("tickets.show", reference=ticket.reference))
    return render_template(
        "tickets/_update.html", editor_changed=editor_changed, primary=primary, **_ticket_context(ticket)
    )


@bp.post("/chamados/<int:reference>/status")
@staff_required
def change_status(reference: int):
    ticket = ticket_or_404(reference)
    had_assignee = ticket.assignee_id is not None
    ticket_service.change_status(
        ticket,
        request.form.get("action", ""),
        current_user,
        expected_status=request.form.get("expected_status"),
        message_html=request.form.get("message", ""),
        reason=request.form.get("reason", ""),
    )
    if not is_fragment_request():
        flash("Status atualizado.", "success")
    return _ticket_update(ticket, editor_changed=had_assignee != (ticket.assignee_id is not None))


@bp.post("/chamados/<int:reference>/linha-do-tempo/ordem")
@staff_required
def timeline_order(reference: int):
    """Newest or oldest first, saved for the person (every ticket, every browser)."""
    ticket = ticket_or_404(reference)
    timeline.set_order(current_user, request.form.get("ordem", ""))
    return redirect(url_for("tickets.show", reference=ticket.reference) + "#timeline", code=303)


@bp.post("/chamados/<int:reference>/responsavel")
@staff_required
def assign(reference: int):
    ticket = ticket_or_404(reference)
    had_assignee = ticket.assignee_id is not None
    ticket_service.assign(ticket, _optional_int(request.form.get("assignee_id")), current_user)
    return _ticket_update(ticket, editor_changed=had_assignee != (ticket.assignee_id is not None))


@bp.post("/chamados/<int:reference>/fila")
@staff_required
def change_queue(reference: int):
    ticket = ticket_or_404(reference)
    ticket_service.change_queue(ticket, _optional_int(request.form.get("queue_id")), current_user)
    return _ticket_update(ticket)


@bp.post("/chamados/<int:reference>/prioridade")
@staff_required
def change_priority(reference: int):
    ticket = ticket_or_404(reference)
    ticket_service.change_priority(ticket, request.form.get("priority", ""), current_user)
    return _ticket_update(ticket)


@bp.post("/chamados/<int:reference>/comentarios")
@staff_required
def comment(reference: int):
    ticket = ticket_or_404(reference)
    files = uploaded_files()
    try:
        ticket_service.add_comment(
            ticket,
            current_user,
            request.form.get("body", ""),
            request.form.get("visibility", CommentVisibility.PUBLIC),
            files,
        )
    except DomainError as error:
        if not is_fragment_request():
            flash_refusal(error.message)
            return redirect(url_for("tickets.show", reference=reference))
        # Re-render the form with what was typed, so nothing is lost.
        return render_template(
            "tickets/_comment_form.html",
            ticket=ticket,
            comment_error=error.message,
            body=request.form.get("body", ""),
            visibility=request.form.get("visibility", "PUBLIC"),
            **_comment_form_context(),
        ), error.status
    return _ticket_update(ticket, primary="comment")


# --- merging -------------------------------------------------------------------


def _merge_target(source: Ticket, typed: str) -> Ticket:
    """The survivor the person typed ("1234" or "#1234"), among the tickets they see."""
    number = record_number(typed.strip().removeprefix("#"))
    if number is None:
        raise ValidationError("Informe o número do chamado que fica (por exemplo, 1234).", field="destino")
    target = db.session.scalar(visible_tickets(current_user).where(Ticket.reference == number))
    if target is None:
        raise ValidationError(f"Chamado #{number} não encontrado.", field="destino")
    return target


def _merge_page(source: Ticket, typed: str, preview=None, error: DomainError | None = None):
    page = render_template(
        "tickets/merge.html",
        ticket=source,
        typed=typed,
        preview=preview,
        error=error.message if error else None,
    )
    return page, (error.status if error else 200)


@bp.get("/chamados/<int:reference>/mesclar")
@staff_required
def merge(reference: int):
    """Choose the survivor by number, then see what would move before confirming."""
    source = ticket_or_404(reference)
    typed = request.args.get("destino", "")[:20]
    try:
        ticket_merge.validate_source(source, current_user)
        if not typed.strip():
            return _merge_page(source, typed)
        return _merge_page(
            source, typed, ticket_merge.preview(source, _merge_target(source, typed), current_user)
        )
    except DomainError as error:
        return _merge_page(source, typed, error=error)


@bp.post("/chamados/<int:reference>/mesclar")
@staff_required
def merge_confirm(reference: int):
    source = ticket_or_404(reference)
    typed = request.form.get("destino", "")[:20]
    try:
        target = _merge_target(source, typed)
        ticket_merge.merge(source, target, current_user)
    except DomainError as error:  # its 4xx answer rolls the work back
        return _merge_page(source, typed, error=error)
    flash(f"Chamado #{source.reference} mesclado no #{target.reference}.", "success")
    return redirect(url_for("tickets.show", reference=target.reference))


@bp.get("/anexos/<int:attachment_id>")
@login_required
def download_attachment(attachment_id: int):
    """Serve a file only to someone who may see its ticket; anyone else gets 404."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or not current_user_can("tickets.download", attachment):
        abort(404)
    return send_attachment(attachment)
