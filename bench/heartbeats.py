"""Benchmark: device heartbeats through the real HTTP stack (gunicorn + PostgreSQL + Redis).

    .venv/bin/python bench/heartbeats.py                       # 2 000 devices, 20 000 heartbeats
    .venv/bin/python bench/heartbeats.py --heartbeats 200000   # the memory-growth run
    .venv/bin/python bench/heartbeats.py --no-redis            # the embedded shape (no REDIS_URL)
    .venv/bin/python bench/heartbeats.py --inventory-when-changed   # as the reference agent sends

Registers N devices over HTTP in its own database (BENCH_HB_DATABASE_URL, default
the local `chamados_bench_hb`, recreated each run; Redis BENCH_REDIS_URL, default
db 13, flushed), then sends heartbeats that each carry the device's full ~90 KB
inventory (as the original desktop app does on every beat), identical except for
1 % of the devices whose inventory changes every round. Bodies are gzipped as the
reference agent sends them (--plain: uncompressed). With --inventory-when-changed a
heartbeat carries the inventory only when it changed (the reference agent's
behaviour), metrics otherwise.

Prints heartbeats per second and the ratio to a trivial JSON endpoint of the same
app (GET /health/live) measured in the same run with the same client, the
PostgreSQL WAL bytes and inventory-table growth per identical heartbeat, and the
web workers' RSS before and after. The load generator shares the two cores with
the server, so it is kept lean: prebuilt requests on keep-alive sockets, and the
clients start together once every request is built.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import multiprocessing
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench._db import create_bench_company, recreate_database, start_gunicorn  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_hb"
SECRET = "bench-provisioning-secret"
PORT = 5391
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
FLUSH_SECONDS = 10  # PRESENCE_FLUSH_SECONDS, the default


def inventory(device: int, variant: int = 0) -> dict:
    """About 90 KB of JSON: hardware, OS, disks, network and 480 programs."""
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
                # Windows' uninstall keys are GUIDs: random, so the JSON compresses like a real one.
                "id": str(uuid.UUID(int=random.Random(i).getrandbits(128))).upper(),
                "installDate": f"2025{1 + i % 12:02d}{1 + i % 28:02d}",
            }
            for i in range(480)
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


def http_request(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    """One HTTP/1.1 request as bytes, built once and sent many times."""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class LeanConnection:
    """A keep-alive connection that sends prebuilt requests and reads just enough of
    each response (status and Content-Length). The load generator shares the two
    cores with the server, so it must cost as little as possible: http.client spent
    about 0.45 ms of CPU per 90 KB heartbeat."""

    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.closing = False

    def response(self) -> int | None:
        """Read what arrived; the status once a whole response is in, else None."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-response")
        self.buffer += chunk
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end].decode("latin-1").lower()
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return None
        self.buffer = self.buffer[end + 4 + length :]
        self.closing = "connection: close" in head
        return int(head.split(" ", 2)[1])


# Set in each client process: every client starts sending at the same moment, once all
# have built their requests (building 1 000 gzipped 90 KB bodies must not be timed).
START_TOGETHER = None


def _client_init(barrier) -> None:
    global START_TOGETHER
    START_TOGETHER = barrier


def drive(next_request, count: int, connections: int) -> tuple[int, int, float]:
    """Send `count` requests (`next_request(i)` gives the bytes of the i-th), keeping
    `connections` keep-alive connections each with one request in flight.
    Returns (ok, errors, seconds from the common start to this client's last answer)."""
    selector = selectors.DefaultSelector()
    sent = ok = errors = done = 0
    if START_TOGETHER is not None:
        START_TOGETHER.wait()
    started = time.perf_counter()
    for _ in range(min(connections, count)):
        conn = LeanConnection()
        conn.sock.sendall(next_request(sent))
        sent += 1
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    while done < count:
        for key, _ in selector.select(timeout=30):
            conn = key.data
            status = conn.response()
            if status is None:
                continue
            done += 1
            ok += status == 200
            errors += status != 200
            if conn.closing or sent >= count:
                selector.unregister(conn.sock)
                conn.sock.close()
                if sent >= count:
                    continue
                conn = LeanConnection()
                selector.register(conn.sock, selectors.EVENT_READ, conn)
            conn.sock.sendall(next_request(sent))
            sent += 1
    return ok, errors, time.perf_counter() - started


def heartbeat_body(device: int, variant: int = 0) -> bytes:
    metrics = {"cpuPercent": 12.0 if not variant else 50.0, "memoryPercent": 48.0}
    return json.dumps({"metrics": metrics, "inventory": inventory(device, variant)}).encode()


def heartbeat_request(device: int, token: str, variant: int, plain: bool) -> bytes:
    """What the reference agent sends: the JSON gzipped (unless --plain)."""
    body, headers = heartbeat_body(device, variant), {"Authorization": f"Bearer {token}"}
    if not plain:
        body, headers["Content-Encoding"] = gzip.compress(body, compresslevel=6), "gzip"
    return http_request("POST", "/api/machines/heartbeat", body, headers)


def metrics_request(token: str) -> bytes:
    body = json.dumps({"metrics": {"cpuPercent": 12.0, "memoryPercent": 48.0}}).encode()
    return http_request("POST", "/api/machines/heartbeat", body, {"Authorization": f"Bearer {token}"})


def worker(args) -> tuple[int, int, float]:
    """Send `count` heartbeats round-robin over this worker's devices; a device in
    `changing` sends a new inventory on every round after the first."""
    devices, count, changing, connections, (plain, when_changed) = args
    identical = [
        metrics_request(t) if when_changed else heartbeat_request(d, t, 0, plain) for d, t in devices
    ]
    # The changed inventories are built before the clock starts too (gzip of 90 KB is ~2 ms).
    rounds = -(-count // len(devices))
    changed = {
        (round_, slot): heartbeat_request(device, token, round_, plain)
        for slot, (device, token) in enumerate(devices)
        if device in changing
        for round_ in range(1, rounds)
    }

    def next_request(i: int) -> bytes:
        round_, slot = divmod(i, len(devices))
        return changed.get((round_, slot), identical[slot])

    return drive(next_request, count, connections)


def trivial_worker(args) -> tuple[int, int, float]:
    _devices, count, _changing, connections, _options = args
    raw = http_request("GET", "/health/live")
    return drive(lambda i: raw, count, connections)


def register_devices(args) -> list[tuple[int, str]]:
    numbers, code = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    devices = []
    for device in numbers:
        body = json.dumps(
            {
                "companyCode": code,
                "email": f"pessoa{device}@bench.test",
                "hostname": f"pc-{device:05d}",
                "os": {"name": "Windows 11 Pro", "version": "11", "build": "26100"},
                "serialNumbers": [f"SN{device:06d}"],
            }
        ).encode()
        status, raw = request(conn, "POST", "/api/machines/register", body, {"X-Provisioning-Secret": SECRET})
        assert status == 201, raw
        devices.append((device, json.loads(raw)["machineToken"]))
    return devices


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


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / ticks


def postgres_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def steal_and_total() -> tuple[int, int]:
    """The machine's (steal, total) CPU ticks so far: how much of the run the hypervisor took."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[7], sum(fields[:8])


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--heartbeats", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=2, help="load-generating processes")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections per client")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument(
        "--plain", action="store_true", help="send the JSON uncompressed (no Content-Encoding)"
    )
    parser.add_argument(
        "--inventory-when-changed",
        action="store_true",
        help="the reference agent's protocol: the inventory only in heartbeats where it changed",
    )
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="the embedded shape: no REDIS_URL (rate limits and presence in-process)",
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_HB_DATABASE_URL", DEFAULT_URL)
    redis_url = None if args.no_redis else os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    recreate_database(url)
    if redis_url:
        Redis.from_url(redis_url).flushdb()

    env = {
        **os.environ,
        "APP_ENV": "production",
        "PUBLIC_BASE_URL": "http://127.0.0.1",  # production refuses to start without one
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-" + "k" * 40,
        "MACHINE_PROVISIONING_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "AGENT_RATE_LIMIT": "100000 per minute",
        "MACHINE_ALERTS_CREATE_TICKETS": "false",
        "HOST": "127.0.0.1",
        "PORT": str(PORT),
        "WEB_CONCURRENCY": str(args.web_workers),
        "GUNICORN_THREADS": str(args.threads),
        "GUNICORN_MAX_REQUESTS": "0",
        "INSTANCE_PATH": str(ROOT / "instance" / "bench-hb"),
        "FLASK_APP": "wsgi.py",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    flask = str(Path(sys.executable).with_name("flask"))
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    code = create_bench_company(ROOT, env)

    gunicorn = start_gunicorn(ROOT, env, PORT)
    try:
        started = time.perf_counter()
        with multiprocessing.Pool(4) as pool:
            numbers = [range(i, args.devices, 4) for i in range(4)]
            devices = sorted(
                d for part in pool.map(register_devices, [(n, code) for n in numbers]) for d in part
            )
        print(f"registered {args.devices} devices in {time.perf_counter() - started:.1f} s")

        slices = [devices[i :: args.clients] for i in range(args.clients)]
        changing = {d for d, _ in devices[::100]}  # 1 %

        def run(
            count_per_client: int, changing_devices: set, function=worker, when_changed: bool = False
        ) -> tuple[int, int, float]:
            """(ok, errors, seconds): the load phase from the common start to the last answer."""
            barrier = multiprocessing.Barrier(args.clients)
            with multiprocessing.Pool(args.clients, initializer=_client_init, initargs=(barrier,)) as pool:
                results = pool.map(
                    function,
                    [
                        (s, count_per_client, changing_devices, args.connections, (args.plain, when_changed))
                        for s in slices
                    ],
                )
                return sum(r[0] for r in results), sum(r[1] for r in results), max(r[2] for r in results)

        # First heartbeat of every device stores its initial inventory (not measured).
        run(len(slices[0]), set())
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

        # Identical heartbeats only: what one costs in bytes written (presence
        # flushes included: wait for one flush interval before reading the WAL).
        wal0, inv0, rows0 = snapshot_state()
        identical = min(args.heartbeats, 4 * args.devices)
        run(identical // args.clients, set(), when_changed=args.inventory_when_changed)
        time.sleep(FLUSH_SECONDS + 1)
        wal1, inv1, rows1 = snapshot_state()

        # The measured run: 1 % of the inventories change.
        web, database = [gunicorn.pid, *pids], postgres_pids()
        cpu0, steal0 = (cpu_seconds(web), cpu_seconds(database)), steal_and_total()
        ok, errors, elapsed = run(
            args.heartbeats // args.clients, changing, when_changed=args.inventory_when_changed
        )
        web_cpu, db_cpu = cpu_seconds(web) - cpu0[0], cpu_seconds(database) - cpu0[1]
        steal1 = steal_and_total()
        steal = (steal1[0] - steal0[0]) / max(1, steal1[1] - steal0[1])
        _wal2, _inv2, rows2 = snapshot_state()

        trivial_ok, _, trivial_elapsed = run(args.heartbeats // args.clients, set(), trivial_worker)
        rss_after = rss_of(worker_pids(gunicorn.pid))
        rate, trivial_rate = ok / elapsed, trivial_ok / trivial_elapsed

        sample = heartbeat_body(0)
        json_kb, wire_kb = len(sample) / 1024, len(gzip.compress(sample, compresslevel=6)) / 1024
        shape = f"PostgreSQL + Redis ({redis_url})" if redis_url else "PostgreSQL, no Redis (embedded shape)"
        print(
            f"\n{args.devices} devices, {ok + errors} heartbeats, 1 % of inventories changing; {shape}\n"
            + (
                "heartbeats carry the inventory only when it changed (reference agent), metrics otherwise\n"
                if args.inventory_when_changed
                else f"every heartbeat carries the full inventory: {json_kb:.1f} KB of JSON, "
                f"{'sent as is' if args.plain else f'{wire_kb:.1f} KB on the wire (Content-Encoding: gzip)'}\n"
            )
            + f"{args.clients} client processes × {args.connections} keep-alive connections, "
            f"{args.web_workers} gunicorn workers × {args.threads} threads"
        )
        print(f"heartbeats/s:                  {rate:8.0f}   (errors: {errors})")
        print(
            f"CPU per heartbeat: web {web_cpu / ok * 1000:.2f} ms, PostgreSQL {db_cpu / ok * 1000:.2f} ms "
            f"(CPU steal during the run: {steal:.0%})"
        )
        print(
            f"trivial GET /health/live/s:    {trivial_rate:8.0f}   ratio heartbeat/trivial: {rate / trivial_rate:.2f}"
        )
        print(f"identical heartbeats:          {identical}")
        print(
            f"  WAL bytes per heartbeat:     {(wal1 - wal0) / identical:8.0f}   "
            "(last-seen times written behind in batches; a metric sample every 5 min)"
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
