"""The record of background job runs, shown on Saúde → Tarefas.

`record_run` is the only writer (the job runner commits it). A successful run that changed
nothing is folded into the job's latest row when that row is also "nothing to do", so a
one-minute job adds a row only when something happens (or fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import JobRun, JobRunStatus
from app.models.types import utcnow

RUNS_PAGE_SIZE = 50
ERROR_MAX_CHARS = 4000


@dataclass
class JobOutcome:
    """What a job reports: how many rows it changed, one summary line, whether work remains."""

    changed: int = 0
    summary: str = ""
    has_more: bool = False


def record_run(
    job: str,
    trigger: str,
    started_at: datetime,
    *,
    outcome: JobOutcome | None = None,
    error: str | None = None,
    attempt: int = 1,
) -> JobRun:
    finished_at = utcnow()
    duration_ms = max(int((finished_at - started_at).total_seconds() * 1000), 0)
    if error is None and outcome is not None and outcome.changed == 0 and not outcome.has_more:
        latest = db.session.scalar(
            select(JobRun)
            .where(JobRun.job == job)
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(1)
        )
        if latest is not None and latest.status == JobRunStatus.SUCCEEDED and latest.changed == 0:
            latest.repeats += 1
            latest.finished_at = finished_at
            latest.duration_ms = duration_ms
            return latest
    run = JobRun(
        job=job,
        trigger=trigger,
        status=JobRunStatus.FAILED if error is not None else JobRunStatus.SUCCEEDED,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=duration_ms,
        attempt=attempt,
        changed=outcome.changed if outcome else 0,
        summary=(outcome.summary if outcome else "")[:2000],
        error=error[-ERROR_MAX_CHARS:] if error else None,
    )
    db.session.add(run)
    db.session.flush()
    return run


def recent_runs(
    job: str | None = None, before_id: int | None = None, limit: int = RUNS_PAGE_SIZE
) -> list[JobRun]:
    """Newest first, keyset-paginated by id; at most `limit` (capped at RUNS_PAGE_SIZE)."""
    query = select(JobRun).order_by(JobRun.id.desc()).limit(min(limit, RUNS_PAGE_SIZE) + 1)
    if job:
        query = query.where(JobRun.job == job)
    if before_id:
        query = query.where(JobRun.id < before_id)
    return list(db.session.scalars(query))


def latest_by_job() -> dict[str, JobRun]:
    """The most recent run of each job (one indexed lookup per job name)."""
    newest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    runs = db.session.scalars(select(JobRun).join(newest, newest.c.id == JobRun.id))
    return {run.job: run for run in runs}


def failed_since(since: datetime) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(JobRun)
        .where(JobRun.status == JobRunStatus.FAILED, JobRun.finished_at >= since)
    )


def failures_last_day() -> int:
    return failed_since(utcnow() - timedelta(days=1))
