"""`python -m workers worker|cron|all` — the production side of the jobs.

worker  an RQ worker on the jobs queue, with RQ's scheduler (retries wait on it)
cron    RQ's CronScheduler with the schedule of workers/jobs.py
all     both, as two child processes (what `make worker` runs)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from dotenv import load_dotenv


def _app():
    from app import create_app

    load_dotenv()
    app = create_app()
    if not app.config.get("REDIS_URL"):
        sys.exit("REDIS_URL is not set: without Redis, `make run` runs the jobs inside the web process.")
    return app


def worker(burst: bool = False) -> None:
    from redis import Redis
    from rq import Queue, Worker

    from workers.runner import use_app

    app = _app()
    use_app(app)
    connection = Redis.from_url(app.config["REDIS_URL"])
    queue = Queue(app.config["JOBS_QUEUE"], connection=connection)
    Worker([queue], connection=connection).work(with_scheduler=True, burst=burst)


def cron() -> None:
    from redis import Redis

    from workers.schedule import build_cron_scheduler

    app = _app()
    with app.app_context():
        scheduler = build_cron_scheduler(app, Redis.from_url(app.config["REDIS_URL"]))
    scheduler.start()


def run_all() -> None:
    _app()
    children = [subprocess.Popen([sys.executable, "-m", "workers", role]) for role in ("worker", "cron")]

    def stop(_signum, _frame):
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # If either one dies, stop the other too: a supervisor then restarts the pair.
    while all(child.poll() is None for child in children):
        time.sleep(1)
    stop(None, None)
    sys.exit(max(child.wait() for child in children))


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "all"
    if command == "worker":
        worker(burst="--burst" in argv)
    elif command == "cron":
        cron()
    elif command == "all":
        run_all()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
