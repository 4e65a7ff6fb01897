"""How a job runs, and how it is queued.

`run_job` is the one place that runs a job, and the boundary of its unit of work: it starts the
job in no tenant's scope (the job goes tenant by tenant with tenancy.for_each_tenant or scope,
or says why it looks across tenants with all_tenants); the job's work and its record (Tarefas)
are committed together; a failed run's work is rolled back and only its failure is recorded. It
logs the summary line and queues a follow-up run while work remains. The in-process scheduler,
the cron HTTP endpoint, the CLI and RQ's workers (workers/runner.py `execute`) all call it.

`submit`/`enqueue` put a run on RQ when REDIS_URL is set, with the job's timeout and
retries, to be run by any worker; without Redis (the embedded default), or when Redis does
not answer, the run happens on one background thread of this process, with the same
retries; tests (JOBS_INLINE) run it before `enqueue` returns.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError

from app.extensions import db
from app.jobs.registry import job_spec
from app.models.types import utcnow
from app.redis_client import get_redis
from app.services import tenancy, transaction
from app.services.job_runs import JobOutcome, record_run

log = logging.getLogger("chamados.jobs")
MAX_CHAIN = 20  # follow-up runs in a row before waiting for the next scheduled one
# What an RQ worker calls, by name: the worker process's entry point builds its own app.
RQ_ENTRY_POINT = "workers.runner.execute"


class UnknownJob(LookupError):
    pass


class JobDisabled(RuntimeError):
    pass


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
        with tenancy.scope(tenancy.NO_TENANT):  # each job says whose rows it works on (registry)
            outcome = spec.run(**kwargs)
            record_run(spec.name, trigger, started_at, outcome=outcome, attempt=attempt)
            transaction.commit()  # the run's work and its record, together
    except Exception:
        _record_failure(spec.name, trigger, started_at, attempt, clock)
        raise
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
            enqueue(spec.name, trigger="continuation", chain=chain + 1, **kwargs)
        else:
            log.warning(
                "job=%s chain limit %d reached; the next scheduled run continues", spec.name, MAX_CHAIN
            )
    return outcome


def _record_failure(name: str, trigger: str, started_at, attempt: int, clock: float) -> None:
    """Nothing of a failed run is kept but the record of its failure (Saúde → Tarefas)."""
    transaction.rollback()
    error = traceback.format_exc()
    record_run(name, trigger, started_at, error=error, attempt=attempt)
    transaction.commit()
    log.error(
        "job=%s trigger=%s status=failed attempt=%d duration_ms=%d error=%s",
        name,
        trigger,
        attempt,
        int((time.perf_counter() - clock) * 1000),
        error.strip().splitlines()[-1],
    )


# --- queueing -----------------------------------------------------------------------

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
        RQ_ENTRY_POINT,
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
