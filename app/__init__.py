"""Chamados: an IT helpdesk with the device side built in."""

from __future__ import annotations

import importlib
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.config import load_config
from app.extensions import csrf, db, login_manager, migrate, sock
from app.logging_setup import configure_logging, install_request_logging
from app.services.numbers import INT32_MAX
from app.session_interface import CookieSessionWhenPresent

__version__ = "0.1.0"

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` overrides what the environment says (tests use it)."""
    overrides = dict(config or {})
    instance_path = overrides.pop("INSTANCE_PATH", None)
    env = overrides.pop("ENV", None)
    settings = load_config(env, instance_path=instance_path)
    settings.update(overrides)

    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    app.session_interface = CookieSessionWhenPresent()
    app.config.update(settings)
    app.config["VERSION"] = __version__
    configure_logging(app.config["LOG_LEVEL"])

    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    app.url_map.converters["int"] = RecordNumberConverter
    _init_extensions(app)
    from app.services import (
        audit,  # noqa: F401  (registers the audit hook on every session flush)
        feed,  # noqa: F401  (numbers and publishes every committed change screens show)
        tenancy,  # noqa: F401  (scopes every ORM query to the current tenant)
        text_limits,  # noqa: F401  (refuses text longer than its column)
        transaction,
    )

    _register_blueprints(app)
    _register_error_handlers(app)
    _register_template_helpers(app)
    install_request_logging(app)
    # The request commits its work or rolls it back. Registered last, it runs first of the
    # after_request hooks: a failed commit is the answer the others see (a 500).
    transaction.register(app)
    if app.config["RUN_SCHEDULER_IN_PROCESS"]:
        from app.jobs.schedule import start_in_process

        start_in_process(app)

    from app.cli import register_cli

    register_cli(app)
    return app


class RecordNumberConverter(IntegerConverter):
    """`<int:…>` in every route: a number an INTEGER column can hold, else the URL matches
    nothing (404). PostgreSQL answers a larger one with an error, not "no such row"."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(url_map, *args, **kwargs)


def _init_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (registers every table on the metadata)
    from app.services.auth import load_active_user

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        from app.db_pool import install_idle_ping

        with app.app_context():
            install_idle_ping(db.engine, app.config["DATABASE_PING_IDLE_SECONDS"])
    else:
        from app.db_sqlite import install_search_fold

        with app.app_context():
            install_search_fold(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    sock.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Entre para continuar."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_active_user)


BLUEPRINT_MODULES = (
    "account",
    "agent_api",
    "audit",
    "auth",
    "canned_replies",
    "chat",
    "companies",
    "cron",
    "dashboard",
    "device_sessions",
    "devices",
    "health",
    "inventory_api",
    "portal",
    "portal_chat",
    "queues",
    "reports",
    "tickets",
    "users",
)


def _register_blueprints(app: Flask) -> None:
    for name in BLUEPRINT_MODULES:
        app.register_blueprint(importlib.import_module(f"app.views.{name}").bp)


def _register_error_handlers(app: Flask) -> None:
    from app.services.errors import DomainError
    from app.views.errors import TOO_MANY_REQUESTS, error_response

    @app.errorhandler(DomainError)
    def _domain_error(error):
        # A rule refused the change: its 4xx answer rolls the request's work back.
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        return error_response(
            400, "csrf_failed", "Sua sessão expirou ou o formulário é inválido. Recarregue a página."
        )

    @app.errorhandler(429)
    def _too_many_requests(error):
        response = app.make_response(error_response(429, "rate_limited", TOO_MANY_REQUESTS))
        if getattr(error, "retry_after", None):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(405)
    def _method_not_allowed(error):
        # A new response replaces werkzeug's, and with it the Allow header it built (RFC 9110: a
        # 405 must carry one): the route's methods, copied back.
        response = app.make_response(error_response(405, "method_not_allowed", "Método não permitido."))
        if getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

    for status, code, message in (
        (400, "bad_request", "Requisição inválida."),
        (403, "forbidden", "Você não tem permissão para acessar esta página."),
        (404, "not_found", "Página não encontrada."),
        (413, "payload_too_large", "O envio excede o tamanho máximo permitido."),
        (500, "internal_error", "Erro interno. A equipe foi avisada."),
    ):
        app.register_error_handler(status, lambda error, s=status, c=code, m=message: error_response(s, c, m))


def _register_template_helpers(app: Flask) -> None:
    from app.services import tenancy
    from app.views import account, static_assets, template_helpers, text_input

    static_assets.register(app)
    template_helpers.register(app)
    text_input.register(app)
    app.before_request(tenancy.enter_request_scope)
    # After the scope: staff whose tenant requires a second factor enrol before anything else.
    app.before_request(account.require_two_factor_enrolment)
    app.before_request(template_helpers.note_feed_seq)
