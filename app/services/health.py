"""The state of the process and the services it depends on, for /health and Saúde."""

import resource
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, text

from app.devices.online import online_sql
from app.extensions import db
from app.models import Company, Machine, MachinePresence, Role, Ticket, TicketStatus, User
from app.models.types import utcnow
from app.redis_client import get_redis
from app.services import job_runs, partitions, retention


def process_rss_bytes() -> int:
    """Resident memory of this process (current value from /proc, peak as a fallback)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check_database() -> dict:
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except Exception as error:  # any driver error means "down" here
        db.session.rollback()
        return {"status": "error", "error": type(error).__name__, "backend": db.engine.dialect.name}
    return {
        "status": "ok",
        "backend": db.engine.dialect.name,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


def check_redis() -> dict:
    client = get_redis()
    if client is None:
        return {"status": "not_configured"}
    started = time.perf_counter()
    try:
        client.ping()
    except Exception as error:
        return {"status": "error", "error": type(error).__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def health_snapshot(version: str, queue: dict | None = None) -> tuple[dict, bool]:
    """Return the snapshot and whether the app can serve (the database answers).

    `queue`: a `check_queue()` the caller already made (Saúde shows it in full)."""
    database = check_database()
    redis = check_redis()
    healthy = database["status"] == "ok"
    snapshot = {
        "status": "ok" if healthy and redis["status"] != "error" else ("degraded" if healthy else "error"),
        "version": version,
        "database": database,
        "redis": redis,
        "queue": queue_summary(check_queue() if queue is None else queue),
        "memory": {"rss_bytes": process_rss_bytes()},
    }
    return snapshot, healthy


# --- Saúde: the operations dashboard ----------------------------------------------


def check_queue() -> dict:
    """The jobs side: RQ queue, failed registry, workers and cron scheduler with Redis;
    the in-process scheduler without. Never raises: a dead Redis is a status."""
    client = get_redis()
    if client is None:
        scheduler = current_app.extensions.get("chamados_scheduler")
        alive = scheduler is not None and scheduler.is_alive()
        return {
            "status": "ok" if alive else "not_running",
            "mode": "in_process",
            "scheduler_last_beat": scheduler.last_beat.isoformat() if alive and scheduler.last_beat else None,
        }
    try:
        from rq import Queue, Worker
        from rq.cron import CronScheduler
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        queue = Queue(current_app.config["JOBS_QUEUE"], connection=client)
        workers = Worker.all(queue=queue)
        schedulers = CronScheduler.all(client)
        return {
            "status": "ok" if workers else "no_workers",
            "mode": "redis",
            "queued": queue.count,
            "running": StartedJobRegistry(queue=queue).count,
            "failed": FailedJobRegistry(queue=queue).count,
            "workers": [
                {
                    "name": worker.name,
                    "state": worker.get_state(),
                    "last_heartbeat": worker.last_heartbeat.isoformat() if worker.last_heartbeat else None,
                }
                for worker in workers[:20]
            ],
            "cron_schedulers": [
                {"name": s.name, "last_heartbeat": _iso(s.last_heartbeat)} for s in schedulers[:20]
            ],
        }
    except Exception as error:  # Redis down or refusing: a warning on the page, never a 500
        return {"status": "error", "mode": "redis", "error": type(error).__name__}


def queue_summary(queue: dict) -> dict:
    """The short form /health reports (no worker list)."""
    summary = {key: queue[key] for key in ("status", "mode", "queued", "failed") if key in queue}
    if "workers" in queue:
        summary["workers"] = len(queue["workers"])
    return summary


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def database_size_bytes() -> int | None:
    try:
        if db.engine.dialect.name == "postgresql":
            return db.session.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        pages = db.session.execute(text("PRAGMA page_count")).scalar_one()
        page_size = db.session.execute(text("PRAGMA page_size")).scalar_one()
        return pages * page_size
    except Exception:
        db.session.rollback()
        return None


def tenant_overview() -> dict:
    """The current tenant's tickets by status, registrations and device heartbeat state."""
    by_status = dict(db.session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
    total_devices, online, ever_seen = db.session.execute(
        select(
            func.count(Machine.id),
            func.count(MachinePresence.machine_id).filter(online_sql()),
            func.count(MachinePresence.machine_id).filter(MachinePresence.last_seen_at.is_not(None)),
        )
        .select_from(Machine)
        .outerjoin(MachinePresence, MachinePresence.machine_id == Machine.id)
        .where(Machine.is_active.is_(True))
    ).one()
    users = dict(
        db.session.execute(
            select(User.role, func.count()).where(User.is_active.is_(True)).group_by(User.role)
        ).all()
    )
    staff = sum(count for role, count in users.items() if Role(role).is_staff)
    return {
        "tickets": {status.value: by_status.get(status, 0) for status in TicketStatus},
        "registrations": {
            "companies": db.session.scalar(select(func.count()).select_from(Company)),
            "staff": staff,
            "collaborators": sum(users.values()) - staff,
            "devices": total_devices,
        },
        "heartbeats": {"online": online, "offline": ever_seen - online, "never": total_devices - ever_seen},
    }


def system_overview(queue: dict) -> dict:
    """What the whole installation shares: retention, database size, the job queue, failed runs."""
    overdue = retention.overdue_counts()
    now = utcnow()
    rows = []
    for rule in retention.RULES:
        spec = partitions.partitioned(rule.table)
        rows.append(
            {
                "table": rule.table,
                "label": rule.label,
                "days": current_app.config[rule.days_setting],
                "overdue": overdue[rule.table],
                "partitions": partitions.status(spec, now) if spec is not None else None,
            }
        )
    return {
        "retention": rows,
        "partitioned": any(row["partitions"] for row in rows),
        "database_size_bytes": database_size_bytes(),
        "queue": queue,
        "failed_runs_24h": job_runs.failures_last_day(),
    }
