"""Benchmark: thousands of computers connected, and how fast a chat start reaches one.

    .venv/bin/python bench/device_connections.py                  # 5 000 devices, 200 chats
    .venv/bin/python bench/device_connections.py --devices 500 --chats 50 --worker-class gthread

Seeds its own database (BENCH_DEVICES_DATABASE_URL, default the local
`chamados_bench_devices`, recreated each run): N devices, online, each with a ticket linked
to it, and one staff member. Starts two gunicorn processes sharing PostgreSQL and Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/13), as production runs them: the sockets
pool (one process, gevent by default) that every device's websocket `/ws/chat` connects to,
and the web pool (gthread) that takes staff's clicks. Every device connects at once (as
after a restart) and waits. Then staff press "Iniciar chat" (POST /chamados/<n>/chat/iniciar,
the button's own request) on random tickets at a steady rate; the clock runs from the POST
being sent to the device's `{"type": "session", "event": "started"}` frame.

Prints the connect storm, the sockets process's memory and CPU per idle connection (over an
idle minute, which includes each socket's credential re-check every 25 s), the time to
notice (p50/p95/p99/max), the HTTP answer's own time, and the ratio to a raw Redis pub/sub
round trip measured in the same run. Target: notice p95 < 2 s at 5 000 devices, none missed.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import websockets  # noqa: E402

from bench._db import migrate, production_env, recreate_database, start_gunicorn  # noqa: E402
from bench.chat import percentile, redis_round_trip  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_devices"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
SOCKETS_PORT, WEB_PORT = 5395, 5396


def seed(env: dict, devices: int) -> tuple[list[tuple[str, int]], dict]:
    """Online devices with a linked ticket each. Returns ([(token, ticket ref)], staff headers)."""
    from flask import session
    from flask_wtf.csrf import generate_csrf
    from sqlalchemy import insert

    from app import create_app
    from app.devices import presence
    from app.devices.tokens import issue_token
    from app.extensions import db
    from app.models import Company, Machine, Role, Tenant, Ticket, User
    from app.models.types import utcnow
    from app.services.tickets import create_ticket

    app = create_app({"ENV": env, "INSTANCE_PATH": Path(env["INSTANCE_PATH"])})
    with app.app_context():
        tenant = Tenant(key="bench", name="Bench")
        db.session.add(tenant)
        db.session.flush()
        company = Company(tenant_id=tenant.id, name="Empresa Bench", apelido="bench")
        agent = User(tenant_id=tenant.id, role=Role.AGENT, email="agente@bench.test", name="Agente Bench")
        db.session.add_all([company, agent])
        db.session.flush()
        people = db.session.execute(
            insert(User).returning(User.id),
            [
                {
                    "tenant_id": tenant.id,
                    "role": Role.COLLABORATOR,
                    "company_id": company.id,
                    "email": f"pessoa{n}@bench.test",
                    "name": f"Pessoa {n}",
                }
                for n in range(devices)
            ],
        ).scalars()
        machines = [
            Machine(
                tenant_id=tenant.id, company_id=company.id, hostname=f"pc-{n:05d}", assigned_user_id=person
            )
            for n, person in enumerate(people)
        ]
        db.session.add_all(machines)
        db.session.flush()
        pairs = []
        now = utcnow()
        first = create_ticket(
            tenant_id=tenant.id,
            requester=db.session.get(User, machines[0].assigned_user_id),
            subject="Chamado 0",
        )
        first.machine_id = machines[0].id
        tickets = [first]
        for n, machine in enumerate(machines[1:], start=1):
            tickets.append(
                Ticket(
                    tenant_id=tenant.id,
                    reference=first.reference + n,
                    requester_id=machine.assigned_user_id,
                    company_id=company.id,
                    queue_id=first.queue_id,
                    subject=f"Chamado {n}",
                    machine_id=machine.id,
                )
            )
        db.session.add_all(tickets[1:])
        db.session.flush()
        for machine, ticket in zip(machines, tickets, strict=True):
            token, _ = issue_token(machine)
            presence.touch(machine.id, now)
            pairs.append((token, ticket.reference))
        db.session.commit()
        with app.test_request_context():
            session["_user_id"], session["_fresh"] = str(agent.id), True
            csrf = generate_csrf()
            cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    origin = f"http://127.0.0.1:{WEB_PORT}"
    return pairs, {"Cookie": f"session={cookie}", "X-CSRFToken": csrf, "HX-Request": "true", "Origin": origin}


def process_tree(server: subprocess.Popen) -> list[psutil.Process]:
    process = psutil.Process(server.pid)
    return [process, *process.children(recursive=True)]


def cpu_seconds(server: subprocess.Popen) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in process_tree(server))


def worker_rss(server: subprocess.Popen) -> int:
    """Resident memory of the sockets pool's worker(s) (the master holds no socket)."""
    return sum(p.memory_info().rss for p in process_tree(server)[1:])


class Devices:
    """Every device's socket, and when each heard of its chat."""

    def __init__(self):
        self.sockets: dict[int, websockets.ClientConnection] = {}
        self.noticed: dict[int, float] = {}
        self.connect_ms: list[float] = []
        self.failed = 0

    async def connect(self, token: str, reference: int, semaphore: asyncio.Semaphore) -> None:
        started = time.perf_counter()
        async with semaphore:  # the OS's accept backlog, not the server, is what a storm fills first
            try:
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{SOCKETS_PORT}/ws/chat",
                    additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=120,
                    ping_interval=None,
                    max_queue=4,
                )
                if json.loads(await ws.recv())["type"] != "hello":
                    raise RuntimeError("no hello")
            except Exception:  # counted and reported
                self.failed += 1
                return
        self.sockets[reference] = ws
        self.connect_ms.append((time.perf_counter() - started) * 1000)
        asyncio.get_running_loop().create_task(self.listen(reference, ws))

    async def listen(self, reference: int, ws) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "session" and frame.get("event") == "started":
                    self.noticed.setdefault(frame["ticket"], time.perf_counter())
        except websockets.ConnectionClosed:
            pass


async def start_chats(devices: Devices, headers: dict, chats: int, rate: float) -> tuple[dict, list[float]]:
    """Staff press "Iniciar chat" on random tickets, `rate` per second. Returns (ref -> sent at, HTTP ms)."""
    chosen = random.sample(sorted(devices.sockets), min(chats, len(devices.sockets)))
    pressed: dict[int, float] = {}
    answers: list[float] = []

    def post(reference: int) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
        connection.request("POST", f"/chamados/{reference}/chat/iniciar", headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()

    async def press(reference: int) -> None:
        pressed[reference] = time.perf_counter()
        status, text = await asyncio.to_thread(post, reference)
        answers.append((time.perf_counter() - pressed[reference]) * 1000)
        if status != 200 or "Encerrar chat" not in text:
            print(f"  ! #{reference}: {status} {text[:200]}")

    tasks = []
    for reference in chosen:
        tasks.append(asyncio.create_task(press(reference)))
        await asyncio.sleep(random.expovariate(rate))
    await asyncio.gather(*tasks)
    return pressed, answers


async def run(pairs, headers, args, sockets_server, web_server) -> dict:
    figures: dict = {}
    devices = Devices()
    base_rss, base_cpu = worker_rss(sockets_server), cpu_seconds(sockets_server)
    semaphore = asyncio.Semaphore(args.connect_concurrency)
    opened = time.perf_counter()
    await asyncio.gather(*(devices.connect(token, ref, semaphore) for token, ref in pairs))
    figures["connect_seconds"] = time.perf_counter() - opened
    figures["connect_cpu"] = cpu_seconds(sockets_server) - base_cpu
    await asyncio.sleep(2)
    figures["rss_per_socket"] = (worker_rss(sockets_server) - base_rss) / max(len(devices.sockets), 1)
    idle_from = cpu_seconds(sockets_server)
    client_from = time.process_time()
    await asyncio.sleep(args.idle_seconds)
    figures["idle_cpu"] = cpu_seconds(sockets_server) - idle_from
    figures["client_idle_cpu"] = time.process_time() - client_from
    pressed, answers = await start_chats(devices, headers, args.chats, args.rate)
    await asyncio.sleep(3)  # late notices
    figures["latencies"] = [
        (devices.noticed[ref] - sent) * 1000 for ref, sent in pressed.items() if ref in devices.noticed
    ]
    figures["missed"] = len(pressed) - len(figures["latencies"])
    figures["http_ms"] = answers
    figures["devices"] = devices
    for ws in devices.sockets.values():
        await ws.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="chats started per second")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--worker-class", default="gevent", help="the sockets pool's: gevent or gthread")
    parser.add_argument("--connect-concurrency", type=int, default=500)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.devices * 2 + 512:
        sys.exit(f"open files limit {hard} is too low for {args.devices} sockets (ulimit -n)")

    url = os.environ.get("BENCH_DEVICES_DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    recreate_database(url)
    env = production_env(
        ROOT,
        url,
        redis_url,
        "bench-devices",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{WEB_PORT}",
        CHAT_ALLOWED_ORIGINS=f"http://127.0.0.1:{WEB_PORT}",
    )
    migrate(ROOT, env)
    seeded_at = time.perf_counter()
    pairs, headers = seed(env, args.devices)
    print(
        f"device connections bench: {args.devices} devices seeded in {time.perf_counter() - seeded_at:.0f} s"
    )
    pool = {"WEB_CONCURRENCY": "1", "GUNICORN_WORKER_CLASS": args.worker_class}
    if args.worker_class == "gthread":
        pool["GUNICORN_THREADS"] = str(args.devices + 32)
    sockets_server = start_gunicorn(ROOT, {**env, **pool, "PORT": str(SOCKETS_PORT)}, SOCKETS_PORT)
    web_server = start_gunicorn(ROOT, {**env, "WEB_CONCURRENCY": "1", "PORT": str(WEB_PORT)}, WEB_PORT)
    try:
        redis_rtt = asyncio.run(redis_round_trip(redis_url))
        figures = asyncio.run(run(pairs, headers, args, sockets_server, web_server))
    finally:
        for server in (sockets_server, web_server):
            server.terminate()
            server.wait(timeout=30)
    report(args, figures, redis_rtt)


def report(args, figures: dict, redis_rtt: list[float]) -> None:
    devices: Devices = figures["devices"]
    connected = len(devices.sockets)
    lat, http_ms = figures["latencies"], figures["http_ms"]
    print(f"  sockets pool: 1 process, {args.worker_class}; web pool: 1 process, gthread; Redis between them")
    print(
        f"  connect storm: {connected} of {args.devices} connected in {figures['connect_seconds']:.1f} s "
        f"(p50 {percentile(devices.connect_ms, 0.5):.0f} ms, p99 {percentile(devices.connect_ms, 0.99):.0f} ms, "
        f"{devices.failed} failed); sockets CPU {figures['connect_cpu']:.1f} s"
    )
    idle = figures["idle_cpu"]
    print(
        f"  idle: {figures['rss_per_socket'] / 1024:.1f} KiB of memory per connection; CPU "
        f"{idle:.2f} s over {args.idle_seconds:.0f} s = {idle / args.idle_seconds * 100:.1f}% of a core, "
        f"{idle / args.idle_seconds / max(connected, 1) * 1e6:.1f} µs/s per connection"
    )
    print(
        f"  'Iniciar chat' → device notice, {len(lat)} chats at {args.rate:g}/s: p50 {percentile(lat, 0.5):.1f} ms, "
        f"p95 {percentile(lat, 0.95):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms, max {max(lat, default=float('nan')):.1f} ms; "
        f"missed {figures['missed']}"
    )
    print(
        f"  of which the POST's own answer: p50 {percentile(http_ms, 0.5):.1f} ms, p95 {percentile(http_ms, 0.95):.1f} ms"
    )
    rtt50, rtt99 = percentile(redis_rtt, 0.5), percentile(redis_rtt, 0.99)
    print(f"  raw Redis pub/sub round trip: p50 {rtt50:.2f} ms, p99 {rtt99:.2f} ms")
    print(
        f"  ratio to Redis: p50 {percentile(lat, 0.5) / rtt50:.0f}x, p95 {percentile(lat, 0.95) / rtt50:.0f}x"
    )
    met = percentile(lat, 0.95) < 2000 and figures["missed"] == 0 and connected == args.devices
    print(f"  target (all connected, notice p95 < 2 s, none missed): {'met' if met else 'NOT met'}")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
