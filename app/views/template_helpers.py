"""Jinja globals and filters shared by every template."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request
from flask_login import current_user
from markupsafe import Markup, escape

from app.security import current_user_can
from app.services import feed
from app.services.timeline import format_duration
from app.views import security_headers


def is_fragment_request() -> bool:
    """htmx asked for a piece of a page (not a boosted navigation nor a history restore)."""
    headers = request.headers
    return bool(
        headers.get("HX-Request")
        and not headers.get("HX-Boosted")
        and not headers.get("HX-History-Restore-Request")
    )


def layout() -> str:
    """The template a page extends: the full layout, or the bare one for an htmx fragment."""
    return "_fragment.html" if is_fragment_request() else "base.html"


def localtime(value: datetime | str | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A moment in the install's time zone. Also an ISO text (what the health checks report);
    a time without a zone is UTC there."""
    if not value:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return value.astimezone(zone).strftime(fmt)


def shortdate(value: datetime | None) -> str:
    """A list's compact moment: "30/11 04:30" this year, "30/11/2025" before (the full moment
    goes in the cell's title)."""
    if value is None:
        return "—"
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    local = value.astimezone(zone)
    return local.strftime("%d/%m %H:%M" if local.year == datetime.now(zone).year else "%d/%m/%Y")


def thousands(value: int) -> str:
    """12345 -> "12.345", as numbers are written in Portuguese."""
    return f"{value:,}".replace(",", ".")


def options(choices, selected=None, label: str = "name", detail: str | None = None) -> Markup:
    """The <option>s of (id, label…) rows: `<option value="id">label — detail</option>`, the one
    whose id is `selected` marked so. A select of every company of a tenant (hundreds) is on each
    ticket list request: as one Python loop it costs half the same loop written in Jinja."""
    html = []
    for choice in choices:
        text = escape(getattr(choice, label))
        if detail:
            text = f"{text} — {escape(getattr(choice, detail))}"
        mark = " selected" if choice.id == selected else ""
        html.append(f'<option value="{choice.id}"{mark}>{text}</option>')
    return Markup("".join(html))


def note_feed_seq() -> None:
    """Before a page is built: the tenant's last change number, which live.js follows from.
    Read first, so a change committed while the page is built is replayed, never missed."""
    g.feed_seq = None
    if request.method != "GET" or is_fragment_request() or request.path.startswith(("/api/", "/ws/")):
        return
    if current_user.is_authenticated:
        g.feed_seq = feed.current_seq(current_user.tenant_id)


def register(app: Flask) -> None:
    # can('admin.companies'), can('tickets.download', attachment): the signed-in visitor's
    # permissions (services/permissions.py); templates never compare roles themselves.
    app.jinja_env.globals.update(
        layout=layout, is_fragment_request=is_fragment_request, can=current_user_can, options=options
    )
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["thousands"] = thousands
    app.jinja_env.filters["shortdate"] = shortdate

    page_headers = security_headers.html_headers(app.config)

    @app.after_request
    def _response_headers(response):
        # The same URL answers a fragment or a full page; caches must keep them apart.
        # Only HTML depends on HX-Request: JSON answers (heartbeats) skip the header work,
        # and get only nosniff of the security headers (app/views/security_headers.py).
        is_html = response.mimetype == "text/html"
        if is_html:
            response.vary.add("HX-Request")
        security_headers.apply(response.headers, is_html, page_headers)
        return response
