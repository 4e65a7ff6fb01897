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
