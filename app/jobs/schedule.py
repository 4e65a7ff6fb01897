"""The schedule, run two ways from the same JobSpecs:

- with Redis: RQ's CronScheduler (`python -m workers cron`, built in workers/schedule.py)
  enqueues each job at its time; RQ workers run them with timeouts and retries;
- without Redis (`make run`): `InProcessScheduler`, a daemon thread of the web
  process, runs them itself, so a newcomer's app cleans up too.

Cron expressions are in DEFAULT_TIMEZONE (the cron process sets TZ to it).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from flask import Flask

from app.extensions import db
from app.jobs.registry import JOBS, JobSpec
from app.jobs.runner import run_with_retries

log = logging.getLogger("chamados.jobs")


def scheduled_jobs(config: dict) -> list[JobSpec]:
    return [spec for spec in JOBS.values() if spec.enabled(config)]


def next_run(spec: JobSpec, config: dict, after: datetime | None = None) -> datetime:
    zone = ZoneInfo(config["DEFAULT_TIMEZONE"])
    base = (after or datetime.now(zone)).astimezone(zone)
    return croniter(spec.cron_expression(config), base).get_next(datetime)


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
