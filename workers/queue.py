"""Putting a job on the queue: RQ when REDIS_URL is set, this process otherwise.

With Redis the job gets its timeout and retries from its JobSpec and is run by
any worker. Without Redis (the embedded default) it runs on one background
thread of this process, with the same retries; tests (JOBS_INLINE) run it
before `enqueue` returns.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError

from app.redis_client import get_redis
from workers.jobs import job_spec
from workers.runner import JobDisabled, UnknownJob, execute, run_job

log = logging.getLogger("chamados.jobs")
FAILURE_TTL = int(timedelta(days=7).total_seconds())
RESULT_TTL = int(timedelta(days=1).total_seconds())

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def rq_queue(connection=None):
    from rq import Queue

    return Queue(current_app.config["JOBS_QUEUE"], connection=connection or get_redis())


def rq_retry(spec):
    from rq import Retry

    return Retry(max=len(spec.retry_intervals), interval=list(spec.retry_intervals))


@dataclass(frozen=True)
class Submission:
    """Where a job run went: `job` is the RQ job when Redis took it; `fell_back` says Redis was
    configured but did not answer, so this process runs it instead (nothing is lost)."""

    job: object | None = None
    fell_back: bool = False

    def notice(self, label: str) -> str:
        """What the person who asked for the run is told, in Portuguese."""
        if self.fell_back:
            return (
                f"A fila de tarefas (Redis) não respondeu: “{label}” está sendo executada neste "
                "servidor. Acompanhe o resultado em Saúde → Tarefas."
            )
        return f"“{label}” foi colocada na fila. Acompanhe o resultado em Saúde → Tarefas."


def enqueue(name: str, *, trigger: str = "enqueue", **kwargs):
    """Queue a job run. Returns the RQ job (Redis), or None when run in-process."""
    return submit(name, trigger=trigger, **kwargs).job


def submit(name: str, *, trigger: str = "enqueue", **kwargs) -> Submission:
    """Queue a job run on RQ; without Redis, or when Redis does not answer, run it in this
    process (with the same retries), so a click is never lost to an outage, nor answered 500."""
    spec = job_spec(name)
    if spec is None:
        raise UnknownJob(name)
    if get_redis() is not None:
        try:
            return Submission(job=_rq_enqueue(spec, trigger, kwargs))
        except RedisError as error:
            log.warning("job=%s Redis unreachable (%s): running it in this process", spec.name, error)
            _run_here(spec, trigger, kwargs)
            return Submission(fell_back=True)
    _run_here(spec, trigger, kwargs)
    return Submission()


def _rq_enqueue(spec, trigger: str, kwargs: dict):
    return rq_queue().enqueue(
        execute,
        args=(spec.name, trigger),
        kwargs=kwargs,
        job_timeout=spec.timeout,
        retry=rq_retry(spec),
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=f"{spec.name} ({trigger})",
    )


def _run_here(spec, trigger: str, kwargs: dict) -> None:
    app = current_app._get_current_object()
    if app.config["JOBS_INLINE"]:
        run_with_retries(spec.name, trigger, sleep=lambda _seconds: None, **kwargs)
        return
    _thread_pool().submit(_run_in_thread, app, spec.name, trigger, kwargs)


def _thread_pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # One thread: in-process jobs run one at a time, like a single worker.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chamados-job")
        return _executor


def _run_in_thread(app, name: str, trigger: str, kwargs: dict) -> None:
    from app.extensions import db

    with app.app_context():
        try:
            run_with_retries(name, trigger, **kwargs)
        finally:
            db.session.remove()


def run_with_retries(name: str, trigger: str, *, sleep=time.sleep, **kwargs) -> bool:
    """Run in this process with the job's retries; failures are recorded and logged, not raised."""
    spec = job_spec(name)
    attempts = len(spec.retry_intervals) + 1
    for attempt in range(1, attempts + 1):
        try:
            run_job(spec.name, trigger, attempt=attempt, **kwargs)
            return True
        except JobDisabled:
            return False
        except Exception:  # recorded by run_job; try again after the job's interval
            if attempt < attempts:
                sleep(spec.retry_intervals[attempt - 1])
    return False
