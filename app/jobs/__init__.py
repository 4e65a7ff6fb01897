"""Background jobs: the registry (registry.py), how a job runs and is queued (runner.py) and
the schedule (schedule.py). The processes that run them, an RQ worker and RQ's cron
scheduler, are entry points in workers/."""
