"""Benchmark: heartbeats, chat and staff pages at once, each beside the same figure measured alone.

    .venv/bin/python bench/mixed.py                         # 1 000 devices at 1 000 heartbeats/s, 200 chats
    .venv/bin/python bench/mixed.py --seconds 5 --sessions 50 --devices 200   # a quick try

Seeds its own database (BENCH_MIXED_DATABASE_URL, default the local
`chamados_bench_mixed`, recreated each run; Redis BENCH_REDIS_URL, default db 9,
flushed): N devices online with a ticket and an ACTIVE chat session each
(bench/chat.py's seed), and M more devices registered over HTTP (bench/heartbeats.py's).
Runs the servers as production does (README, "Three pools"): the staff pool
(gunicorn gthread, :5401) serves the staff pages, the sockets pool (gunicorn gevent,
:5402) every chat socket, and the device pool (gunicorn gthread at GUNICORN_NICE
--device-nice, :5403) the heartbeats, all on the same PostgreSQL and Redis.

Four phases of --seconds each: chat alone, staff browsing alone, heartbeats alone,
then all three at once. --shared adds a fifth: all at once with the heartbeats sent
to the staff pool instead (the single web pool of before, for comparison). Chat: both sides of every session send as a Poisson
process (bench/chat.py's connect/converse; 200 sessions × 0.1/s per side = 40
messages/s), send→receive latency. Staff: --staff-clients signed-in browsers
(the session cookie of the seeded agent) alternating GET /chamados and
GET /chamados/<ref> with --staff-pause between requests, each timed from the
client. Heartbeats: the full ~90 KB inventory gzipped on every beat
(bench/heartbeats.py's requests and `drive`), paced to --heartbeat-rate over
keep-alive connections; the achieved rate and each request's latency. On two
cores the machine does not reach 1 000 full-inventory heartbeats/s beside the
rest: the niced device pool gets what the people leave, and the table says what
the heartbeats achieved.

Prints, alone and mixed: staff pages p50/p95, chat p50/p99, heartbeats/s and
p95. Targets, while the heartbeats flow: staff pages p95 < 100 ms, chat p99 <
100 ms (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import multiprocessing
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench import chat, heartbeats  # noqa: E402
from bench._db import migrate, production_env, recreate_database, start_gunicorn  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_mixed"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
WEB_PORT, SOCKETS_PORT, DEVICE_PORT = 5401, 5402, 5403  # 5404 is kept for this bench too
percentile = chat.percentile


class Stop(Exception):
    """Raised from a heartbeat client's request builder once the phase is over: ends `drive`."""


SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)  # Linux; the socket module does not export it


class _TimedSocket:
    """The socket of a heartbeat connection: notes when each request went out and, from the
    kernel (SO_TIMESTAMP), when the data last read had arrived. The paced client sleeps between
    sends, so a response may sit in the socket a while before it is read: the kernel's time of
    arrival keeps that wait out of the latency."""

    def __init__(self, sock, owner):
        self.sock, self.owner = sock, owner
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)

    def sendall(self, data: bytes) -> None:
        self.owner.sent_at = time.time()
        self.sock.sendall(data)

    def recv(self, size: int) -> bytes:
        data, ancillary, _flags, _address = self.sock.recvmsg(size, 64)
        self.owner.arrived_at = time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(value) >= 16:
                seconds, microseconds = struct.unpack("qq", value[:16])
                self.owner.arrived_at = seconds + microseconds / 1e6
        return data

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


# In a heartbeat client process: (wall time answered, latency ms, status) of every heartbeat.
ANSWERS: list[tuple[float, float, int]] = []


class TimedConnection(heartbeats.LeanConnection):
    """heartbeats.LeanConnection that records each response's latency (one request in flight):
    from the send to the arrival of the response's last bytes."""

    def __init__(self):
        super().__init__()
        self.sent_at = self.arrived_at = time.time()
        self.sock = _TimedSocket(self.sock, self)

    def response(self) -> int | None:
        status = super().response()
        if status is not None:
            ANSWERS.append((self.arrived_at, (self.arrived_at - self.sent_at) * 1000, status))
        return status


def heartbeat_client(devices, rate, connections, port, nice, ready, go, stop, results) -> None:
    """Full-inventory heartbeats to `port`, round-robin over `devices` at `rate` per second (or as
    fast as the server answers, if slower) from `go` until `stop`; puts ANSWERS on `results`.
    At `nice`: these processes stand for a thousand other computers, whose CPU is not this
    machine's; at nice 0 they would take a core from the people the bench measures."""
    os.nice(nice)
    heartbeats.PORT = port
    heartbeats.LeanConnection = TimedConnection  # drive() opens its connections through this name
    built = [heartbeats.heartbeat_request(device, token, 0, False) for device, token in devices]
    ready.put(1)
    go.wait()
    started = time.perf_counter()

    def next_request(i: int) -> bytes:
        if stop.is_set():
            raise Stop
        # Paced: the i-th request not before its time (responses arriving meanwhile wait in their
        # sockets; their latency is taken at arrival, see _TimedSocket).
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        return built[i % len(built)]

    with contextlib.suppress(Stop):
        heartbeats.drive(next_request, 10**9, connections)
    results.put(ANSWERS)


def staff_client(cookie, references, clients, pause, ready, go, stop, results) -> None:
    """`clients` threads, each a signed-in browser alternating the ticket list and a ticket."""
    answers: list[tuple[float, float, str, int]] = []

    def browse(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=60)
        headers = {"Cookie": f"session={cookie}"}
        picker = random.Random(n)
        go.wait()
        time.sleep(pause * n / clients)  # spread the clients over one pause
        page = 0
        while not stop.is_set():
            path = "/chamados" if page % 2 == 0 else f"/chamados/{picker.choice(references)}"
            sent = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - sent) * 1000
            answers.append((time.time(), elapsed, "list" if page % 2 == 0 else "ticket", response.status))
            page += 1
            time.sleep(pause)
        conn.close()

    threads = [threading.Thread(target=browse, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    ready.put(1)
    for thread in threads:
        thread.join()
    results.put(answers)


class Load:
    """Heartbeat and/or staff client processes: started and ready (requests built), then
    `go()` starts them together and `finish()` stops them and collects what they measured."""

    def __init__(
        self, args, devices, cookie, references, with_heartbeats=False, with_staff=False, port=DEVICE_PORT
    ):
        self.ready, self.results = multiprocessing.Queue(), multiprocessing.Queue()
        self.go_event, self.stop_event = multiprocessing.Event(), multiprocessing.Event()
        self.processes = []
        channels = (self.ready, self.go_event, self.stop_event, self.results)
        if with_heartbeats:
            rate = args.heartbeat_rate / args.clients
            for part in range(args.clients):
                self.processes.append(
                    multiprocessing.Process(
                        target=heartbeat_client,
                        args=(
                            devices[part :: args.clients],
                            rate,
                            args.connections,
                            port,
                            args.client_nice,
                            *channels,
                        ),
                    )
                )
        if with_staff:
            self.processes.append(
                multiprocessing.Process(
                    target=staff_client,
                    args=(cookie, references, args.staff_clients, args.staff_pause, *channels),
                )
            )
        for process in self.processes:
            process.start()
        for _ in self.processes:
            self.ready.get(timeout=300)
        self.started_at = None

    def go(self) -> None:
        self.started_at = time.time()
        self.go_event.set()

    def finish(self, window: tuple[float, float]) -> tuple[list, list]:
        """(heartbeat answers, staff answers) that came back within `window` (wall times)."""
        self.stop_event.set()
        collected = [self.results.get(timeout=120) for _ in self.processes]
        for process in self.processes:
            process.join(timeout=30)
        beats = [a for part in collected for a in part if len(a) == 3 and window[0] <= a[0] <= window[1]]
        pages = [a for part in collected for a in part if len(a) == 4 and window[0] <= a[0] <= window[1]]
        return beats, pages


def summarize(beats, pages, tally, seconds) -> dict:
    lat = tally.latencies if tally else []
    lost = duplicated = 0
    if tally:
        expected = {(i, side, n) for (i, side), total in tally.sent.items() for n in range(1, total + 1)}
        lost = len(expected - set(tally.received))
        duplicated = sum(count - 1 for count in tally.received.values() if count > 1)
    ok_beats = [ms for _, ms, status in beats if status == 200]
    page_ms = [ms for _, ms, _, status in pages if status == 200]
    by_kind = {
        kind: [ms for _, ms, each, status in pages if each == kind and status == 200]
        for kind in ("list", "ticket")
    }
    return {
        "staff": (percentile(page_ms, 0.5), percentile(page_ms, 0.95), len(page_ms) / seconds),
        "list": (percentile(by_kind["list"], 0.5), percentile(by_kind["list"], 0.95)),
        "ticket": (percentile(by_kind["ticket"], 0.5), percentile(by_kind["ticket"], 0.95)),
        "staff_errors": sum(1 for *_, status in pages if status != 200),
        "chat": (percentile(lat, 0.5), percentile(lat, 0.99), len(lat) / seconds),
        "chat_lost": lost,
        "chat_duplicated": duplicated,
        "beats": (len(ok_beats) / seconds, percentile(ok_beats, 0.5), percentile(ok_beats, 0.95)),
        "beat_errors": len(beats) - len(ok_beats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--sessions", type=int, default=200, help="chat sessions (devices with a chat)")
    parser.add_argument("--rate", type=float, default=0.1, help="chat messages per second per side")
    parser.add_argument("--devices", type=int, default=1000, help="devices sending heartbeats")
    parser.add_argument("--heartbeat-rate", type=float, default=1000.0, help="heartbeats per second aimed at")
    parser.add_argument("--clients", type=int, default=2, help="heartbeat client processes")
    parser.add_argument(
        "--client-nice", type=int, default=19, help="CPU priority of the heartbeat clients (other computers)"
    )
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections per client")
    parser.add_argument("--web-workers", type=int, default=2, help="staff pool workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per staff pool worker")
    parser.add_argument("--device-workers", type=int, default=2, help="device pool workers")
    parser.add_argument(
        "--device-threads", type=int, default=4, help="gunicorn threads per device pool worker"
    )
    parser.add_argument("--device-nice", type=int, default=19, help="the device pool's GUNICORN_NICE")
    parser.add_argument(
        "--shared", action="store_true", help="a fifth phase: all at once, heartbeats on the staff pool"
    )
    parser.add_argument("--staff-clients", type=int, default=4, help="staff browsers")
    parser.add_argument("--staff-pause", type=float, default=0.25, help="seconds between a browser's pages")
    args = parser.parse_args()

    url = os.environ.get("BENCH_MIXED_DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    recreate_database(url)
    Redis.from_url(redis_url).flushdb()
    env = production_env(
        ROOT,
        url,
        redis_url,
        "bench-mixed",
        AGENT_RATE_LIMIT="100000 per minute",
        MACHINE_ALERTS_CREATE_TICKETS="false",
    )
    migrate(ROOT, env)
    pairs, cookie = chat.seed(env, args.sessions)
    references = [reference for _, reference in pairs]
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        code = connection.scalar(text("SELECT provisioning_code FROM companies LIMIT 1"))
    engine.dispose()

    chat.PORTS = (SOCKETS_PORT, SOCKETS_PORT)  # connect() reads it: device and staff sockets on the pool
    heartbeats.PORT = DEVICE_PORT  # registration and the first heartbeats, in the pool's processes
    web_pool = {"PORT": str(WEB_PORT), "WEB_CONCURRENCY": str(args.web_workers)}
    web_pool["GUNICORN_THREADS"] = str(args.threads)
    sockets_pool = {"PORT": str(SOCKETS_PORT), "WEB_CONCURRENCY": "1", "GUNICORN_WORKER_CLASS": "gevent"}
    device_pool = {"PORT": str(DEVICE_PORT), "WEB_CONCURRENCY": str(args.device_workers)}
    device_pool.update(GUNICORN_THREADS=str(args.device_threads), GUNICORN_NICE=str(args.device_nice))
    servers = [start_gunicorn(ROOT, {**env, **web_pool}, WEB_PORT)]
    servers.append(start_gunicorn(ROOT, {**env, **sockets_pool}, SOCKETS_PORT))
    servers.append(start_gunicorn(ROOT, {**env, **device_pool}, DEVICE_PORT))
    try:
        started = time.perf_counter()
        with multiprocessing.Pool(4) as pool:
            numbers = [range(args.sessions + i, args.sessions + args.devices, 4) for i in range(4)]
            devices = sorted(
                d
                for part in pool.map(heartbeats.register_devices, [(n, code) for n in numbers])
                for d in part
            )
            print(f"registered {len(devices)} devices in {time.perf_counter() - started:.1f} s")
            # The first heartbeat of each device stores its inventory: done before anything is measured.
            pool.map(
                heartbeats.worker,
                [(devices[i::4], len(devices[i::4]), set(), 4, (False, False)) for i in range(4)],
            )

        if args.shared:  # the staff pool's heartbeat path too, for the shared phase
            heartbeats.PORT = WEB_PORT
            with multiprocessing.Pool(4) as pool:
                pool.map(
                    heartbeats.worker,
                    [(devices[i::4], len(devices[i::4]), set(), 4, (False, False)) for i in range(4)],
                )
        # And every staff worker's first pages (templates compiled, caches filled), not measured either.
        warm = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=60)
        for n in range(40):
            path = "/chamados" if n % 2 == 0 else f"/chamados/{references[n % len(references)]}"
            warm.request("GET", path, headers={"Cookie": f"session={cookie}"})
            response = warm.getresponse()
            assert response.status == 200, (path, response.status)
            response.read()
        warm.close()

        def cpu_now() -> tuple[float, ...]:
            """(time, staff, sockets and device pool and PostgreSQL CPU seconds, machine busy and
            total ticks)."""
            pools = ([server.pid, *heartbeats.worker_pids(server.pid)] for server in servers)
            ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            return (
                time.perf_counter(),
                *(heartbeats.cpu_seconds(pids) for pids in pools),
                heartbeats.cpu_seconds(heartbeats.postgres_pids()),
                sum(ticks[:8]) - ticks[3] - ticks[4],  # all but idle and iowait
                sum(ticks[:8]),
            )

        def measure(with_chat: bool, with_heartbeats: bool, with_staff: bool, port=DEVICE_PORT) -> dict:
            load = Load(args, devices, cookie, references, with_heartbeats, with_staff, port)
            tally, cpu = None, {}

            def begin():
                load.go()
                cpu["start"] = cpu_now()
                # The CPU figures cover the measured window only (not the chat's drain after it).
                timer = threading.Timer(
                    args.seconds + (0.2 if with_chat else 0), lambda: cpu.update(end=cpu_now())
                )
                timer.start()
                cpu["timer"] = timer

            if with_chat:
                window = {}

                def connected():
                    begin()
                    window["start"] = time.time() + 0.2  # run_chat's exchange starts 0.2 s after

                tally = asyncio.run(chat.run_chat(pairs, cookie, args.seconds, args.rate, connected))
                start = window["start"]
            else:
                begin()
                start = load.started_at
                time.sleep(args.seconds)
            cpu["timer"].join()
            figures = summarize(*load.finish((start, start + args.seconds)), tally, args.seconds)
            before, after = cpu["start"], cpu["end"]
            elapsed = after[0] - before[0]
            machine = (after[5] - before[5]) / max(1, after[6] - before[6]) * os.cpu_count()
            figures["cpu"] = (*((after[i] - before[i]) / elapsed for i in (1, 2, 3, 4)), machine)
            return figures

        print(f"phases of {args.seconds:.0f} s: chat alone, staff alone, heartbeats alone, all at once")
        alone_chat = measure(True, False, False)
        alone_staff = measure(False, False, True)
        alone_beats = measure(False, True, False)
        mixed = measure(True, True, True)
        shared = measure(True, True, True, port=WEB_PORT) if args.shared else None
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    print(
        f"\nmixed bench: staff pool (gthread, {args.web_workers} workers × {args.threads} threads) :{WEB_PORT}, "
        f"sockets pool (gevent, 1 process) :{SOCKETS_PORT}, device pool (gthread, {args.device_workers} "
        f"workers × {args.device_threads} threads, nice {args.device_nice}) :{DEVICE_PORT}; PostgreSQL + Redis"
    )
    print(
        f"  chat: {args.sessions} sessions × {args.rate * 2:g} messages/s = {args.sessions * args.rate * 2:.0f}/s; "
        f"staff: {args.staff_clients} browsers, list and ticket alternately, {args.staff_pause:g} s apart; "
        f"heartbeats: {len(devices)} devices, full inventory gzipped, aimed at {args.heartbeat_rate:.0f}/s"
    )
    print(
        f"  heartbeats achieved: {alone_beats['beats'][0]:.0f}/s alone, {mixed['beats'][0]:.0f}/s mixed "
        f"(device pool)" + (f", {shared['beats'][0]:.0f}/s shared (on the staff pool)" if shared else "")
    )
    rows = [
        ("staff pages p50 / p95 (ms)", "staff", alone_staff, "{0:.1f} / {1:.1f}"),
        ("  of which list /chamados", "list", alone_staff, "{0:.1f} / {1:.1f}"),
        ("  of which ticket page", "ticket", alone_staff, "{0:.1f} / {1:.1f}"),
        ("staff pages per second", "staff", alone_staff, "{2:.1f}"),
        ("chat p50 / p99 (ms)", "chat", alone_chat, "{0:.1f} / {1:.1f}"),
        ("chat messages per second", "chat", alone_chat, "{2:.0f}"),
        ("heartbeats per second", "beats", alone_beats, "{0:.0f}"),
        ("heartbeat p50 / p95 (ms)", "beats", alone_beats, "{1:.0f} / {2:.0f}"),
    ]
    runs = [("mixed", mixed)] + ([("shared", shared)] if shared else [])
    print(f"\n  {'':30} {'alone':>16}" + "".join(f" {name:>16}" for name, _ in runs))
    for label, key, alone, shape in rows:
        cells = "".join(f" {shape.format(*figures[key]):>16}" for _, figures in runs)
        print(f"  {label:30} {shape.format(*alone[key]):>16}{cells}")
    header = "".join(f" {name:>10}" for name in ("staff pool", "sockets", "devices", "PostgreSQL", "machine"))
    print(f"\n  CPU used, in cores of {os.cpu_count()}: {header}")
    phases = (("chat alone", alone_chat), ("staff alone", alone_staff), ("heartbeats alone", alone_beats))
    for name, figures in (
        *phases,
        ("all at once", mixed),
        *((("all at once, shared", shared),) if shared else ()),
    ):
        print(f"  {name:28}" + "".join(f" {value:10.2f}" for value in figures["cpu"]))
    for name, figures in (("alone", None), *runs):
        if figures is None:
            errors = (alone_staff["staff_errors"], alone_beats["beat_errors"])
            lost = (alone_chat["chat_lost"], alone_chat["chat_duplicated"])
        else:
            errors = (figures["staff_errors"], figures["beat_errors"])
            lost = (figures["chat_lost"], figures["chat_duplicated"])
        print(
            f"  {name}: staff errors {errors[0]}, heartbeat errors {errors[1]}, "
            f"chat lost {lost[0]}, duplicated {lost[1]}"
        )
    staff_ok = mixed["staff"][1] < 100
    chat_ok = mixed["chat"][1] < 100 and mixed["chat_lost"] == 0 and mixed["chat_duplicated"] == 0
    print(
        f"  targets while the heartbeats flow ({mixed['beats'][0]:.0f}/s on the device pool): "
        f"staff pages p95 < 100 ms {'met' if staff_ok else 'NOT met'}, "
        f"chat p99 < 100 ms (nothing lost) {'met' if chat_ok else 'NOT met'}"
    )
    sys.exit(0 if staff_ok and chat_ok else 1)


if __name__ == "__main__":
    main()
