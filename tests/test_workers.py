"""Background jobs: the runner, the in-process mode, RQ with a real Redis and a real worker."""

import dataclasses
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.jobs import registry as job_registry
from app.jobs.runner import JobDisabled, enqueue, run_job, run_with_retries
from app.jobs.schedule import InProcessScheduler, next_run
from app.models import JobRun, JobRunStatus, UsbPolicy, UsbPolicyStatus
from app.models.types import utcnow
from app.services.job_runs import JobOutcome
from tests.conftest import TEST_REDIS_URL
from workers.schedule import build_cron_scheduler

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def runs(job=None):
    query = select(JobRun).order_by(JobRun.id)
    if job:
        query = query.where(JobRun.job == job)
    return list(db.session.scalars(query))


def replace_job(monkeypatch, name, **changes):
    spec = dataclasses.replace(job_registry.JOBS[name], **changes)
    monkeypatch.setitem(job_registry.JOBS, name, spec)
    return spec


def stale_usb_policy(make_machine, admin_user):
    machine = make_machine()
    policy = UsbPolicy(
        machine_id=machine.id,
        mode="BLOCK",
        status=UsbPolicyStatus.PENDING,
        requested_by_id=admin_user.id,
        requested_at=utcnow() - timedelta(hours=3),
    )
    db.session.add(policy)
    db.session.commit()
    return machine.id


# --- the runner (no Redis needed) ------------------------------------------------------


def test_a_run_is_recorded_and_logged(make_machine, admin_user, caplog):
    machine_id = stale_usb_policy(make_machine, admin_user)
    with caplog.at_level("INFO", logger="chamados.jobs"):
        outcome = run_job("usb_policy_cleanup", "manual")
    assert outcome.changed == 1
    assert db.session.get(UsbPolicy, machine_id).status == UsbPolicyStatus.EXPIRED
    [run] = runs()
    assert (run.job, run.trigger, run.status, run.changed) == (
        "usb_policy_cleanup",
        "manual",
        JobRunStatus.SUCCEEDED,
        1,
    )
    [line] = [r.getMessage() for r in caplog.records if r.name == "chamados.jobs"]
    assert "job=usb_policy_cleanup trigger=manual status=ok changed=1" in line


def test_a_failing_job_is_retried_and_every_failure_is_visible(monkeypatch):
    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("banco fora do ar")

    replace_job(monkeypatch, "chat_cleanup", run=broken)
    assert run_with_retries("chat_cleanup", "schedule", sleep=lambda _s: None) is False
    assert len(calls) == 3  # first try + two retries
    failed = runs("chat_cleanup")
    assert [r.attempt for r in failed] == [1, 2, 3]
    assert all(r.status == JobRunStatus.FAILED and "banco fora do ar" in r.error for r in failed)


def test_a_job_that_leaves_work_behind_runs_again_until_done(monkeypatch):
    remaining = [3]

    def batch():
        remaining[0] -= 1
        return JobOutcome(changed=1, summary="um lote", has_more=remaining[0] > 0)

    replace_job(monkeypatch, "retention_sweep", run=batch)
    enqueue("retention_sweep", trigger="manual")  # without Redis (JOBS_INLINE in tests) it runs now
    if TEST_REDIS_URL:
        from app.jobs.runner import rq_queue

        work(rq_queue())  # the follow-ups are queued and run by the same burst
    assert remaining == [0]
    assert [r.trigger for r in runs("retention_sweep")] == ["manual", "continuation", "continuation"]


def test_a_disabled_job_is_refused_and_not_scheduled(app):
    assert app.config["AUTO_PAUSE_LUNCH_ENABLED"] is False
    with pytest.raises(JobDisabled):
        run_job("auto_pause_internal_lunch", "http")
    scheduler = InProcessScheduler(app)
    assert "auto_pause_internal_lunch" not in scheduler.due
    assert runs() == []


def test_lunch_pause_is_scheduled_at_the_configured_local_time(app):
    spec = job_registry.JOBS["auto_pause_internal_lunch"]
    config = {**app.config, "AUTO_PAUSE_LUNCH_TIME": "11:45", "DEFAULT_TIMEZONE": "America/Sao_Paulo"}
    assert spec.cron_expression(config) == "45 11 * * *"
    after = datetime.fromisoformat("2026-11-22T12:00:00-03:00")
    assert next_run(spec, config, after).isoformat() == "2026-11-23T11:45:00-03:00"


def test_the_in_process_scheduler_runs_what_is_due(app, make_machine, admin_user):
    stale_usb_policy(make_machine, admin_user)
    scheduler = InProcessScheduler(app)
    now = datetime.now(scheduler.zone)
    assert all(when > now for when in scheduler.due.values())
    assert scheduler.tick(now) == []
    scheduler.due["usb_policy_cleanup"] = now - timedelta(seconds=1)
    assert scheduler.tick(now) == ["usb_policy_cleanup"]
    assert scheduler.due["usb_policy_cleanup"] > now and scheduler.last_beat == now
    assert [r.trigger for r in runs("usb_policy_cleanup")] == ["schedule"]


# --- RQ on a real Redis ---------------------------------------------------------------------


def work(queue):
    from rq import SimpleWorker

    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)


@pytest.mark.parametrize("name", [n for n in job_registry.JOBS if n != "auto_pause_internal_lunch"])
def test_each_job_runs_on_an_rq_worker(rq_queue, name):
    job = enqueue(name, trigger="manual")
    assert job.timeout == job_registry.JOBS[name].timeout and job.retries_left == 2
    work(rq_queue)
    assert job.get_status(refresh=True) == "finished"
    [run] = runs(name)
    assert (run.trigger, run.status) == ("manual", JobRunStatus.SUCCEEDED)


def test_the_lunch_pause_runs_on_an_rq_worker_when_enabled(rq_queue, app):
    app.config["AUTO_PAUSE_LUNCH_ENABLED"] = True
    try:
        enqueue("auto_pause_internal_lunch")
        work(rq_queue)
    finally:
        app.config["AUTO_PAUSE_LUNCH_ENABLED"] = False
    assert runs("auto_pause_internal_lunch")[0].summary == "fila Interno: 0 chamados pausados"


def test_rq_retries_a_failing_job_then_keeps_it_in_the_failed_registry(rq_queue, monkeypatch):
    from rq.registry import FailedJobRegistry

    def broken():
        raise RuntimeError("falha proposital")

    replace_job(monkeypatch, "chat_cleanup", run=broken, retry_intervals=(0, 0))
    job = enqueue("chat_cleanup")
    work(rq_queue)
    assert job.get_status(refresh=True) == "failed"
    assert job.id in FailedJobRegistry(queue=rq_queue).get_job_ids()
    assert [(r.attempt, r.status) for r in runs("chat_cleanup")] == [
        (n, JobRunStatus.FAILED) for n in (1, 2, 3)
    ]


def test_the_rq_cron_scheduler_enqueues_every_enabled_job(rq_queue, app):
    scheduler = build_cron_scheduler(app, rq_queue.connection)
    names = sorted(job.name for job in scheduler.get_jobs())
    assert names == sorted(n for n in job_registry.JOBS if n != "auto_pause_internal_lunch")
    assert all(
        job.job_options["retry"].max == 2 and job.job_options["job_timeout"] for job in scheduler.get_jobs()
    )
    for cron_job in scheduler.get_jobs():
        cron_job.next_enqueue_time = datetime.now().astimezone() - timedelta(seconds=1)
    assert len(scheduler.enqueue_jobs()) == len(names)
    work(rq_queue)
    assert sorted({r.job for r in runs()}) == names
    assert {r.trigger for r in runs()} == {"schedule"}


@pytest.mark.process
@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs TEST_REDIS_URL")
def test_a_real_rq_worker_process_runs_a_queued_job(rq_queue, test_env, make_machine, admin_user):
    machine_id = stale_usb_policy(make_machine, admin_user)
    enqueue("usb_policy_cleanup", trigger="manual")
    env = {**os.environ, **test_env, "PYTHONPATH": str(PROJECT_ROOT)}
    rq = str(Path(sys.executable).parent / "rq")
    worker = subprocess.run(
        [rq, "worker", "--burst", "--with-scheduler", "--url", TEST_REDIS_URL, "chamados"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert "job=usb_policy_cleanup trigger=manual status=ok changed=1" in worker.stderr + worker.stdout
    db.session.expire_all()
    assert db.session.get(UsbPolicy, machine_id).status == UsbPolicyStatus.EXPIRED
    assert [r.trigger for r in runs("usb_policy_cleanup")] == ["manual"]


@pytest.mark.process
def test_the_cron_process_starts_and_reports_its_heartbeat(rq_queue, test_env):
    from rq.cron import CronScheduler

    env = {**os.environ, **test_env, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "workers", "cron"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not CronScheduler.all(rq_queue.connection) and process.poll() is None:
            assert time.monotonic() < deadline, "the cron scheduler did not register"
            time.sleep(0.2)
        assert process.poll() is None, process.stdout.read()
        [scheduler] = CronScheduler.all(rq_queue.connection)
        assert scheduler.last_heartbeat is not None
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "registered chat_cleanup: * * * * *" in output
