"""Benchmark: device heartbeats through the real HTTP stack (gunicorn + PostgreSQL).

    .venv/bin/python bench/heartbeats.py                       # 2 000 devices, 20 000 heartbeats
    .venv/bin/python bench/heartbeats.py --heartbeats 200000   # the memory-growth run

Registers N devices over HTTP in its own database (BENCH_HB_DATABASE_URL, default
the local `chamados_bench_hb`, recreated each run), then sends heartbeats that
each carry a ~90 KB inventory, identical except for 1 % of the devices whose
inventory changes. Prints heartbeats per second and the ratio to a trivial JSON
endpoint of the same app (GET /health/live) measured in the same run, the PostgreSQL
WAL bytes and inventory-table growth per identical heartbeat, and the web
workers' RSS before and after.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench._db import create_bench_company, recreate_database, start_gunicorn  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_hb"
SECRET = "bench-provisioning-secret"
PORT = 5391


def inventory(device: int, variant: int = 0) -> dict:
    """About 90 KB: hardware, OS, disks, network and ~600 programs."""
    return {
        "hardware": {
            "manufacturer": "Dell Inc.",
            "model": "OptiPlex 7090",
            "cpu": "Intel Core i5-10500",
            "cores": 12,
            "memoryBytes": 17179869184,
            "serial": f"SN{device:06d}",
        },
        "os": {"name": "Windows 11 Pro", "version": "11", "build": "26100", "arch": "x86_64"},
        "disks": [
            {"mount": "C:", "fs": "NTFS", "totalBytes": 512110190592, "freeBytes": 200000000000 + device}
        ],
        "network": [
            {
                "name": "Ethernet",
                "mac": f"aa:bb:cc:{device >> 16 & 255:02x}:{device >> 8 & 255:02x}:{device & 255:02x}",
                "ipv4": [f"10.0.{device >> 8 & 255}.{device & 255}"],
            }
        ],
        "software": [
            {
                "name": f"Programa {i:03d} Suite Corporativa",
                "version": f"{i % 9}.{variant}.{i % 7}",
                "publisher": "Fornecedor de Software Exemplo Ltda.",
            }
            for i in range(620)
        ],
    }


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read()


def worker(args) -> tuple[int, int, float]:
    """Send `count` heartbeats round-robin over this worker's devices; returns (ok, errors, seconds)."""
    devices, count, changing = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    bodies = {}
    for device, _token in devices:
        bodies[device] = json.dumps(
            {"metrics": {"cpuPercent": 12.0, "memoryPercent": 48.0}, "inventory": inventory(device)}
        ).encode()
    ok = errors = 0
    started = time.perf_counter()
    for i in range(count):
        device, token = devices[i % len(devices)]
        body = bodies[device]
        if device in changing and i >= len(devices):  # a changed inventory, once per round
            body = json.dumps(
                {"metrics": {"cpuPercent": 50.0}, "inventory": inventory(device, variant=i)}
            ).encode()
        status, _ = request(
            conn, "POST", "/api/machines/heartbeat", body, {"Authorization": f"Bearer {token}"}
        )
        ok += status == 200
        errors += status != 200
    return ok, errors, time.perf_counter() - started


def trivial(args) -> tuple[int, int, float]:
    count, _ = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    started = time.perf_counter()
    ok = sum(request(conn, "GET", "/health/live")[0] == 200 for _ in range(count))
    return ok, count - ok, time.perf_counter() - started


def rss_of(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--heartbeats", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=4, help="load-generating processes")
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()

    url = os.environ.get("BENCH_HB_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)

    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-" + "k" * 40,
        "MACHINE_PROVISIONING_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "AGENT_RATE_LIMIT": "100000 per minute",
        "MACHINE_ALERTS_CREATE_TICKETS": "false",
        "HOST": "127.0.0.1",
        "PORT": str(PORT),
        "WEB_CONCURRENCY": str(args.web_workers),
        "GUNICORN_THREADS": "4",
        "GUNICORN_MAX_REQUESTS": "0",
        "INSTANCE_PATH": str(ROOT / "instance" / "bench-hb"),
        "FLASK_APP": "wsgi.py",
    }
    env.pop("REDIS_URL", None)
    flask = str(Path(sys.executable).with_name("flask"))
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    code = create_bench_company(ROOT, env)

    gunicorn = start_gunicorn(ROOT, env, PORT)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        started = time.perf_counter()
        devices = []
        for device in range(args.devices):
            body = json.dumps(
                {
                    "companyCode": code,
                    "email": f"pessoa{device}@bench.test",
                    "hostname": f"pc-{device:05d}",
                    "os": {"name": "Windows 11 Pro", "version": "11", "build": "26100"},
                    "serialNumbers": [f"SN{device:06d}"],
                }
            ).encode()
            status, raw = request(
                conn, "POST", "/api/machines/register", body, {"X-Provisioning-Secret": SECRET}
            )
            assert status == 201, raw
            devices.append((device, json.loads(raw)["machineToken"]))
        print(f"registered {args.devices} devices in {time.perf_counter() - started:.1f} s")

        # First heartbeat of every device stores its initial inventory (not measured).
        slices = [devices[i :: args.clients] for i in range(args.clients)]
        changing = {d for d, _ in devices[::100]}  # 1 %
        with multiprocessing.Pool(args.clients) as pool:
            pool.map(worker, [(s, len(s), set()) for s in slices])
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))

        def snapshot_state():
            with engine.connect() as c:
                return (
                    c.scalar(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")),
                    c.scalar(text("SELECT pg_total_relation_size('inventory_snapshots')")),
                    c.scalar(text("SELECT count(*) FROM inventory_snapshots")),
                )

        pids = worker_pids(gunicorn.pid)
        rss_before = rss_of(pids)

        # Identical heartbeats only: what one costs in bytes written.
        wal0, inv0, rows0 = snapshot_state()
        identical = min(args.heartbeats, 4 * args.devices)
        with multiprocessing.Pool(args.clients) as pool:
            pool.map(worker, [(s, identical // args.clients, set()) for s in slices])
        wal1, inv1, rows1 = snapshot_state()

        # The measured run: 1 % of the inventories change.
        with multiprocessing.Pool(args.clients) as pool:
            per_client = args.heartbeats // args.clients
            started = time.perf_counter()
            results = pool.map(worker, [(s, per_client, changing) for s in slices])
            elapsed = time.perf_counter() - started
        ok = sum(r[0] for r in results)
        errors = sum(r[1] for r in results)
        _wal2, _inv2, rows2 = snapshot_state()

        with multiprocessing.Pool(args.clients) as pool:
            started = time.perf_counter()
            trivial_results = pool.map(trivial, [(per_client, None)] * args.clients)
            trivial_elapsed = time.perf_counter() - started
        trivial_ok = sum(r[0] for r in trivial_results)
        rss_after = rss_of(worker_pids(gunicorn.pid))
        rate, trivial_rate = ok / elapsed, trivial_ok / trivial_elapsed

        print(
            f"\n{args.devices} devices, {ok + errors} heartbeats (~90 KB inventory each, 1 % changing), "
            f"{args.clients} client processes, {args.web_workers} gunicorn workers × 4 threads"
        )
        print(f"heartbeats/s:                  {rate:8.0f}   (errors: {errors})")
        print(
            f"trivial GET /health/live/s:    {trivial_rate:8.0f}   ratio heartbeat/trivial: {rate / trivial_rate:.2f}"
        )
        print(f"identical heartbeats:          {identical}")
        print(
            f"  WAL bytes per heartbeat:     {(wal1 - wal0) / identical:8.0f}   (presence update in place; a metric sample every 5 min)"
        )
        print(f"  inventory bytes written:     {inv1 - inv0:8d}   snapshots added: {rows1 - rows0}")
        print(f"snapshots added in measured run: {rows2 - rows1} (changing devices: {len(changing)})")
        print(
            f"web workers RSS: before {rss_before / 1e6:.1f} MB, after {rss_after / 1e6:.1f} MB, "
            f"growth {(rss_after - rss_before) / 1e6:.1f} MB over {ok + errors + identical} heartbeats"
        )
        print(
            "targets: >= 1000 heartbeats/s; 0 inventory bytes for identical heartbeats; RSS growth < 50 MB / 200 000"
        )
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)


if __name__ == "__main__":
    main()
