"""Shared by the bench scripts: each run starts from a fresh database of its own."""

from sqlalchemy import create_engine, text


def recreate_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = create_engine(
        base.replace("postgresql://", "postgresql+psycopg://") + "/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def create_bench_company(root, env: dict) -> str:
    """A tenant and a company in the bench database (through the app); returns its provisioning code."""
    import subprocess
    import sys

    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from app import create_app; from app.extensions import db; "
            "from app.models import Tenant, Company; app = create_app(); ctx = app.app_context(); ctx.push(); "
            "t = Tenant(key='bench', name='Bench'); db.session.add(t); db.session.flush(); "
            "c = Company(tenant_id=t.id, name='Empresa Bench', apelido='bench'); db.session.add(c); "
            "db.session.commit(); print(c.provisioning_code)",
        ],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def start_gunicorn(root, env: dict, port: int):
    """gunicorn with the project's config on `port`, once it answers."""
    import http.client
    import subprocess
    import sys
    import time
    from pathlib import Path

    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=root,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    # The master listens before its workers have loaded the app: wait for an answer, not a connect.
    for _ in range(150):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health/live")
            if connection.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    return server


def production_env(root, url: str, redis_url: str, name: str, **extra) -> dict:
    """The environment of a bench's servers: production settings on its own database and Redis."""
    import os

    return {
        **os.environ,
        "APP_ENV": "production",
        "PUBLIC_BASE_URL": "http://127.0.0.1",  # production refuses to start without one
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-" + "k" * 40,
        "MACHINE_PROVISIONING_SECRET": "bench-provisioning-secret",
        "LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
        "GUNICORN_MAX_REQUESTS": "0",
        "INSTANCE_PATH": str(root / "instance" / name),
        "FLASK_APP": "wsgi.py",
        **extra,
    }


def migrate(root, env: dict) -> None:
    """`flask db upgrade` on the bench's database."""
    import subprocess
    import sys
    from pathlib import Path

    flask = str(Path(sys.executable).with_name("flask"))
    subprocess.run([flask, "db", "upgrade"], cwd=root, env=env, check=True, capture_output=True)
