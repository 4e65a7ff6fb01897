"""The RQ side of a job run: what an RQ worker process calls (`execute`), with the app it
runs in. The run itself is app/jobs/runner.py's `run_job`."""

from __future__ import annotations

from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

from app.extensions import db
from app.jobs.registry import job_spec
from app.jobs.runner import run_job

_worker_app: Flask | None = None


def use_app(app: Flask) -> None:
    """Give this worker process its app up front: RQ forks a child per job, and the child
    inherits it instead of building a new app for every job. (The parent never opens a
    database connection, so no connection is shared across the fork.)"""
    global _worker_app
    _worker_app = app


@contextmanager
def app_context():
    """The current app if there is one (tests, web), else this worker process's own."""
    global _worker_app
    if has_app_context():
        yield current_app
        return
    if _worker_app is None:
        from dotenv import load_dotenv

        from app import create_app

        load_dotenv()
        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            yield _worker_app
        finally:
            db.session.remove()


def execute(name: str, trigger: str = "schedule", chain: int = 0, **kwargs) -> str:
    """RQ entry point. Raises on failure so RQ retries it and keeps it in the failed registry."""
    with app_context():
        return run_job(name, trigger, chain=chain, attempt=_rq_attempt(name), **kwargs).summary


def _rq_attempt(name: str) -> int:
    from rq import get_current_job

    job = get_current_job()
    spec = job_spec(name)
    if job is None or job.retries_left is None or spec is None:
        return 1
    return len(spec.retry_intervals) - job.retries_left + 1
