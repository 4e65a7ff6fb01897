"""The state of the process and the services it depends on, for /health and Saúde."""

import resource
import time
from pathlib import Path

from sqlalchemy import text

from app.extensions import db
from app.redis_client import get_redis


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


def health_snapshot(version: str) -> tuple[dict, bool]:
    """Return the snapshot and whether the app can serve (the database answers)."""
    database = check_database()
    redis = check_redis()
    healthy = database["status"] == "ok"
    snapshot = {
        "status": "ok" if healthy and redis["status"] != "error" else ("degraded" if healthy else "error"),
        "version": version,
        "database": database,
        "redis": redis,
        "memory": {"rss_bytes": process_rss_bytes()},
    }
    return snapshot, healthy
