"""Benchmark: FusionInventory inventories through the real HTTP stack (gunicorn + PostgreSQL).

    .venv/bin/python bench/inventory_ingest.py                  # 200 devices, ~200 KB inventories
    .venv/bin/python bench/inventory_ingest.py --devices 1000

Builds a ~200 KB FusionInventory XML inventory per device (the real agent's
inventory of a Debian machine, tests/fixtures/inventory/fusion_debian.xml, with
its software list grown to ~800 packages), zlib-compressed as the agent sends it,
in a database of its own (BENCH_INV_DATABASE_URL, default the local
`chamados_bench_inv`, recreated each run). Then POSTs to /api/inventory/<code>
from several client processes and prints inventories per second for:
  new        the first inventory of each device (device created, snapshot stored)
  unchanged  the same inventory again (what a daily run mostly is): no snapshot,
             and the WAL bytes and inventory-table growth per inventory
  changed    one more program installed on every device (a new snapshot each)
Baselines measured in the same run: parsing the same XML with defusedxml alone
in one process (what reading the body costs), and a trivial JSON endpoint
(GET /health/live) of the same server.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from defusedxml import ElementTree  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench._db import create_bench_company, recreate_database, start_gunicorn  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_inv"
PORT = 5393
FIXTURE = ROOT / "tests" / "fixtures" / "inventory" / "fusion_debian.xml"
PACKAGES = 800


def template() -> str:
    """The captured inventory with ~800 programs: about 200 KB of XML."""
    xml = FIXTURE.read_text()
    programs = "".join(
        f"<SOFTWARES><ARCH>amd64</ARCH><FILESIZE>{1000 + i}</FILESIZE><FROM>deb</FROM>"
        f"<NAME>pacote-{i:04d}</NAME><PUBLISHER>Debian</PUBLISHER><SYSTEM_CATEGORY>utils</SYSTEM_CATEGORY>"
        f"<VERSION>1.{i}.0-1</VERSION></SOFTWARES>\n    "
        for i in range(PACKAGES)
    )
    return xml.replace("<SOFTWARES>", programs + "<SOFTWARES>", 1)


def inventory(base: str, device: int, extra_program: str | None = None) -> bytes:
    mac = f"02:fc:00:{device >> 16 & 255:02x}:{device >> 8 & 255:02x}:{device & 255:02x}"
    xml = (
        base.replace("debian-ws-2026-11-22-04-27-30", f"bench-{device:05d}-2026-11-22-00-00-00")
        .replace("<NAME>debian-ws</NAME>", f"<NAME>bench-{device:05d}</NAME>")
        .replace("02:fc:00:00:00:01", mac)
    )
    if extra_program:
        xml = xml.replace(
            "</CONTENT>", f"<SOFTWARES><NAME>{extra_program}</NAME><VERSION>1</VERSION></SOFTWARES></CONTENT>"
        )
    return zlib.compress(xml.encode())


def send(args) -> tuple[int, int, float]:
    """POST each body once; returns (ok, errors, seconds)."""
    path, bodies = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    ok = errors = 0
    started = time.perf_counter()
    for body in bodies:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/x-compress-zlib"})
        response = conn.getresponse()
        response.read()
        ok += response.status == 200
        errors += response.status != 200
    return ok, errors, time.perf_counter() - started


def trivial(count: int) -> tuple[int, int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    started = time.perf_counter()
    ok = 0
    for _ in range(count):
        conn.request("GET", "/health/live")
        response = conn.getresponse()
        response.read()
        ok += response.status == 200
    return ok, count - ok, time.perf_counter() - started


def run_round(path: str, bodies: list[bytes], clients: int) -> tuple[float, int]:
    slices = [bodies[i::clients] for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        started = time.perf_counter()
        results = pool.map(send, [(path, s) for s in slices])
        elapsed = time.perf_counter() - started
    errors = sum(r[1] for r in results)
    return sum(r[0] for r in results) / elapsed, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4, help="load-generating processes")
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()

    url = os.environ.get("BENCH_INV_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    env = {
        **os.environ,
        "APP_ENV": "production",
        "PUBLIC_BASE_URL": "http://127.0.0.1",  # production refuses to start without one
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-" + "k" * 40,
        "MACHINE_PROVISIONING_SECRET": "bench-provisioning-secret",
        "LOG_LEVEL": "WARNING",
        "INVENTORY_RATE_LIMIT": "100000 per minute",
        "HOST": "127.0.0.1",
        "PORT": str(PORT),
        "WEB_CONCURRENCY": str(args.web_workers),
        "GUNICORN_THREADS": "4",
        "GUNICORN_MAX_REQUESTS": "0",
        "INSTANCE_PATH": str(ROOT / "instance" / "bench-inv"),
        "FLASK_APP": "wsgi.py",
    }
    env.pop("REDIS_URL", None)
    flask = str(Path(sys.executable).with_name("flask"))
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    code = create_bench_company(ROOT, env)
    path = f"/api/inventory/{code}"

    base = template()
    plain_size = len(base.encode())
    bodies = [inventory(base, device) for device in range(args.devices)]
    changed = [inventory(base, device, "pacote-novo") for device in range(args.devices)]
    print(
        f"inventory: {plain_size / 1024:.0f} KB of XML ({len(bodies[0]) / 1024:.0f} KB zlib), "
        f"{PACKAGES + 25} programs; {args.devices} devices, {args.clients} clients, "
        f"{args.web_workers} gunicorn workers"
    )

    # Baseline 1: parsing alone, one process.
    xml = zlib.decompress(bodies[0])
    started, parsed = time.perf_counter(), 0
    while time.perf_counter() - started < 2:
        ElementTree.fromstring(xml, forbid_dtd=True)
        parsed += 1
    parse_rate = parsed / (time.perf_counter() - started)

    gunicorn = start_gunicorn(ROOT, env, PORT)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))

    def db_state():
        with engine.connect() as c:
            return (
                c.scalar(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")),
                c.scalar(text("SELECT pg_total_relation_size('inventory_snapshots')")),
                c.scalar(text("SELECT count(*) FROM inventory_snapshots")),
                c.scalar(text("SELECT count(*) FROM machines")),
            )

    try:
        new_rate, new_errors = run_round(path, bodies, args.clients)
        wal0, size0, rows0, machines = db_state()
        unchanged_rate, unchanged_errors = run_round(path, bodies, args.clients)
        wal1, size1, rows1, _ = db_state()
        changed_rate, changed_errors = run_round(path, changed, args.clients)
        _wal2, _size2, rows2, machines2 = db_state()
        with multiprocessing.Pool(args.clients) as pool:
            started = time.perf_counter()
            results = pool.map(trivial, [args.devices] * args.clients)
            trivial_rate = sum(r[0] for r in results) / (time.perf_counter() - started)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=20)
        engine.dispose()

    n = args.devices
    print(f"new        {new_rate:8.1f} inventories/s  ({n} devices created: {machines}, errors {new_errors})")
    print(
        f"unchanged  {unchanged_rate:8.1f} inventories/s  (snapshots {rows0} -> {rows1}; "
        f"inventory table +{size1 - size0} bytes; WAL {(wal1 - wal0) / n:.0f} bytes per inventory; "
        f"errors {unchanged_errors})"
    )
    print(
        f"changed    {changed_rate:8.1f} inventories/s  (snapshots {rows1} -> {rows2}; devices {machines2}; "
        f"errors {changed_errors})"
    )
    print(
        f"baseline: defusedxml parse alone {parse_rate:.1f}/s (1 process); GET /health/live {trivial_rate:.0f}/s"
    )
    print(
        f"ratio: unchanged ingest = {unchanged_rate / parse_rate:.2f}x one-process parse rate, "
        f"{unchanged_rate / trivial_rate:.3f}x the trivial endpoint"
    )


if __name__ == "__main__":
    main()
