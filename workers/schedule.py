"""The schedule, run two ways from the same JobSpecs:

- with Redis: RQ's CronScheduler (`python -m workers cron`) enqueues each job at
  its time; RQ workers run them with timeouts and retries;
- without Redis (`make run`): `InProcessScheduler`, a daemon thread of the web
  process, runs them itself, so a newcomer's app cleans up too.

Cron expressions are in DEFAULT_TIMEZONE (the cron process sets TZ to it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from flask import Flask

from workers.jobs import JOBS, JobSpec

log = logging.getLogger("chamados.jobs")


def scheduled_jobs(config: dict) -> list[JobSpec]:
    return [spec for spec in JOBS.values() if spec.enabled(config)]


def next_run(spec: JobSpec, config: dict, after: datetime | None = None) -> datetime:
    zone = ZoneInfo(config["DEFAULT_TIMEZONE"])
    base = (after or datetime.now(zone)).astimezone(zone)
    return croniter(spec.cron_expression(config), base).get_next(datetime)


def build_cron_scheduler(app: Flask, connection):
    """RQ's CronScheduler with every enabled job, each with its timeout and retries."""
    from rq.cron import CronJob, CronScheduler

    from workers.queue import FAILURE_TTL, RESULT_TTL, rq_retry
    from workers.runner import execute

    class RetryingCronJob(CronJob):
        """A CronJob whose runs are enqueued with a retry policy (RQ's register() has no
        retry parameter). The policy is kept out of to_dict(), which RQ saves as JSON."""

        def __init__(self, *args, retry, **kwargs):
            super().__init__(*args, **kwargs)
            self.retry = retry
            self.job_options["retry"] = retry

        def to_dict(self):
            options = self.job_options
            self.job_options = {k: v for k, v in options.items() if k != "retry"}
            try:
                data = super().to_dict()
            finally:
                self.job_options = options
            data["retry"] = f"{self.retry.max}x {self.retry.intervals}"
            return data

    class ChamadosCronScheduler(CronScheduler):
        def register_spec(self, spec: JobSpec) -> CronJob:
            cron_job = RetryingCronJob(
                queue_name=app.config["JOBS_QUEUE"],
                func=execute,
                args=(spec.name, "schedule"),
                cron=spec.cron_expression(app.config),
                job_timeout=spec.timeout,
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                name=spec.name,
                retry=rq_retry(spec),
            )
            self._cron_jobs.append(cron_job)
            self.log.info("registered %s: %s", spec.name, cron_job.cron)
            return cron_job

    os.environ["TZ"] = app.config["DEFAULT_TIMEZONE"]
    time.tzset()
    scheduler = ChamadosCronScheduler(connection=connection)
    for spec in scheduled_jobs(app.config):
        scheduler.register_spec(spec)
    return scheduler


class InProcessScheduler(threading.Thread):
    """Runs the schedule inside this process (embedded mode: no Redis, no worker)."""

    def __init__(self, app: Flask):
        super().__init__(name="chamados-scheduler", daemon=True)
        self.app = app
        self.stopping = threading.Event()
        self.last_beat: datetime | None = None
        self.specs = scheduled_jobs(app.config)
        self.zone = ZoneInfo(app.config["DEFAULT_TIMEZONE"])
        self.due = {spec.name: next_run(spec, app.config) for spec in self.specs}

    def run(self) -> None:
        log.info("in-process scheduler started: %s", ", ".join(self.due))
        while not self.stopping.is_set():
            self.tick()
            now = datetime.now(self.zone)
            wait = min((when - now).total_seconds() for when in self.due.values()) if self.due else 30
            self.stopping.wait(min(max(wait, 0.5), 30))

    def tick(self, now: datetime | None = None) -> list[str]:
        """Run every job that is due (one after the other), and plan its next run."""
        from app.extensions import db
        from workers.queue import run_with_retries

        now = now or datetime.now(self.zone)
        self.last_beat = now
        ran = []
        for spec in self.specs:
            if self.due[spec.name] > now:
                continue
            self.due[spec.name] = next_run(spec, self.app.config, now)
            with self.app.app_context():
                try:
                    run_with_retries(spec.name, "schedule", sleep=self.stopping.wait)
                finally:
                    db.session.remove()
            ran.append(spec.name)
        return ran

    def stop(self) -> None:
        self.stopping.set()


def start_in_process(app: Flask) -> InProcessScheduler | None:
    """Start the in-process scheduler once per app (make run, no REDIS_URL)."""
    if app.config.get("REDIS_URL"):
        log.warning(
            "RUN_SCHEDULER_IN_PROCESS ignored: with REDIS_URL the schedule runs in `python -m workers`"
        )
        return None
    scheduler = app.extensions.get("chamados_scheduler")
    if scheduler is None:
        scheduler = InProcessScheduler(app)
        app.extensions["chamados_scheduler"] = scheduler
        scheduler.start()
    return scheduler
