"""RQ's cron scheduler (`python -m workers cron`), with the schedule of app/jobs/schedule.py.

Cron expressions are in DEFAULT_TIMEZONE (this process sets TZ to it).
"""

from __future__ import annotations

import os
import time

from flask import Flask

from app.jobs.registry import JobSpec
from app.jobs.runner import FAILURE_TTL, RESULT_TTL, rq_retry
from app.jobs.schedule import scheduled_jobs
from workers.runner import execute


def build_cron_scheduler(app: Flask, connection):
    """RQ's CronScheduler with every enabled job, each with its timeout and retries."""
    from rq.cron import CronJob, CronScheduler

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
