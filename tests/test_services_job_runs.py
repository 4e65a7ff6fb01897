"""The Tarefas record: a row per run that did something or failed; quiet runs fold into one row."""

from app.models import JobRun, JobRunStatus
from app.models.types import utcnow
from app.services import job_runs
from app.services.job_runs import JobOutcome


def test_quiet_runs_fold_into_one_row_and_changes_get_their_own():
    for _ in range(3):
        job_runs.record_run("chat_cleanup", "schedule", utcnow(), outcome=JobOutcome(summary="nada"))
    assert JobRun.query.count() == 1 and JobRun.query.one().repeats == 2

    job_runs.record_run(
        "chat_cleanup", "schedule", utcnow(), outcome=JobOutcome(changed=2, summary="2 encerradas")
    )
    job_runs.record_run("chat_cleanup", "schedule", utcnow(), outcome=JobOutcome(summary="nada"))
    job_runs.record_run("chat_cleanup", "schedule", utcnow(), outcome=JobOutcome(summary="nada"))
    runs = job_runs.recent_runs("chat_cleanup")
    assert [(r.changed, r.repeats) for r in runs] == [(0, 1), (2, 0), (0, 2)]


def test_a_failure_is_always_its_own_row_with_the_error():
    job_runs.record_run("retention_sweep", "schedule", utcnow(), outcome=JobOutcome())
    job_runs.record_run("retention_sweep", "schedule", utcnow(), error="Traceback...\nOSError: disco cheio")
    job_runs.record_run("retention_sweep", "schedule", utcnow(), outcome=JobOutcome())
    runs = job_runs.recent_runs()
    assert [r.status for r in runs] == [JobRunStatus.SUCCEEDED, JobRunStatus.FAILED, JobRunStatus.SUCCEEDED]
    assert "disco cheio" in runs[1].error
    assert job_runs.failures_last_day() == 1
    assert job_runs.latest_by_job()["retention_sweep"].id == runs[0].id


def test_the_run_list_is_paginated_with_a_hard_limit():
    for number in range(job_runs.RUNS_PAGE_SIZE + 5):
        job_runs.record_run("usb_policy_cleanup", "http", utcnow(), outcome=JobOutcome(changed=number + 1))
    first = job_runs.recent_runs(limit=10_000)
    assert len(first) == job_runs.RUNS_PAGE_SIZE + 1  # one extra says "there is more"
    rest = job_runs.recent_runs(before_id=first[job_runs.RUNS_PAGE_SIZE - 1].id)
    assert len(rest) == 5
