"""Running a job: the one place that records the run (Tarefas), logs its summary
line and chains a follow-up run while work remains.

`execute` is what RQ calls (from the cron scheduler, `enqueue`, retries); the
in-process scheduler, the cron HTTP endpoint and the CLI call `run_job` directly.
"""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

from app.extensions import db
from app.models.types import utcnow
from app.services.job_runs import JobOutcome, record_run
from workers.jobs import job_spec

log = logging.getLogger("chamados.jobs")
MAX_CHAIN = 20  # follow-up runs in a row before waiting for the next scheduled one

_worker_app: Flask | None = None


class UnknownJob(LookupError):
    pass


class JobDisabled(RuntimeError):
    pass


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


def run_job(name: str, trigger: str, *, chain: int = 0, attempt: int = 1, **kwargs) -> JobOutcome:
    spec = job_spec(name)
    if spec is None:
        raise UnknownJob(name)
    if not spec.enabled(current_app.config):
        log.info("job=%s trigger=%s status=disabled flag=%s", spec.name, trigger, spec.flag)
        raise JobDisabled(f"{spec.name} está desativada ({spec.flag}=false).")
    started_at = utcnow()
    clock = time.perf_counter()
    try:
        outcome = spec.run(**kwargs)
    except Exception:
        db.session.rollback()
        duration_ms = int((time.perf_counter() - clock) * 1000)
        error = traceback.format_exc()
        record_run(spec.name, trigger, started_at, error=error, attempt=attempt)
        log.error(
            "job=%s trigger=%s status=failed attempt=%d duration_ms=%d error=%s",
            spec.name,
            trigger,
            attempt,
            duration_ms,
            error.strip().splitlines()[-1],
        )
        raise
    record_run(spec.name, trigger, started_at, outcome=outcome, attempt=attempt)
    log.info(
        "job=%s trigger=%s status=ok changed=%d more=%s duration_ms=%d %s",
        spec.name,
        trigger,
        outcome.changed,
        outcome.has_more,
        int((time.perf_counter() - clock) * 1000),
        outcome.summary,
    )
    if outcome.has_more and spec.requeue_while_more and not kwargs.get("dry_run"):
        if chain < MAX_CHAIN:
            from workers.queue import enqueue

            enqueue(spec.name, trigger="continuation", chain=chain + 1, **kwargs)
        else:
            log.warning(
                "job=%s chain limit %d reached; the next scheduled run continues", spec.name, MAX_CHAIN
            )
    return outcome
