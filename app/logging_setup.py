"""Logging: one line per request with its duration, plus the app's own messages."""

import logging
import logging.config
import time

from flask import Flask, g, request

request_logger = logging.getLogger("chamados.request")


def configure_logging(level: str) -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "line": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}
            },
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line"}},
            "loggers": {"chamados": {"handlers": ["stderr"], "level": level, "propagate": False}},
        }
    )
    # The request log below replaces Werkzeug's own access log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def install_request_logging(app: Flask) -> None:
    @app.before_request
    def _start_timer():
        if request_logger.isEnabledFor(logging.INFO):  # production runs at WARNING: no work at all
            g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.pop("request_started", None)
        if started is not None:
            duration_ms = (time.perf_counter() - started) * 1000
            # The path only: query strings may carry tokens (device handshake).
            request_logger.info(
                "%s %s %s %.1fms", request.method, request.path, response.status_code, duration_ms
            )
        return response
