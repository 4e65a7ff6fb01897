"""Benchmark: live chat over websockets, two gunicorn processes fanned out through Redis.

    .venv/bin/python bench/chat.py                    # 200 sessions, 20 s, one message per side every 10 s
    .venv/bin/python bench/chat.py --sessions 50 --seconds 10

Seeds its own database (BENCH_CHAT_DATABASE_URL, default the local
`chamados_bench_chat`, recreated each run): N devices, online, each with a ticket
and an ACTIVE chat session. Starts two gunicorn processes (gthread) sharing
PostgreSQL and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/14); every
device socket connects to process A and every staff socket to process B, so each
message crosses processes through Redis. Both sides send messages at a fixed
rate for a fixed time; each receiver checks every message of the other side
arrives exactly once. Prints messages/s, send→receive latency (p50/p95/p99/max),
lost and duplicated counts, and the ratio to a raw Redis pub/sub round trip
measured in the same run. Targets: p99 < 100 ms at 200 sessions, nothing lost
or duplicated (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import websockets  # noqa: E402

from bench._db import migrate, production_env, recreate_database, start_gunicorn  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_chat"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
PORTS = (5393, 5394)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def seed(env: dict, sessions: int) -> tuple[list[tuple[str, int]], str]:
    """Devices online, one ticket each with an active chat. Returns ([(token, ticket ref)], staff cookie)."""
    from app import create_app
    from app.chat.sessions import start_session
    from app.devices import presence
    from app.devices.tokens import issue_token
    from app.extensions import db
    from app.models import Company, Machine, Role, Tenant, User
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
        pairs = []
        now = utcnow()
        for n in range(sessions):
            person = User(
                tenant_id=tenant.id,
                role=Role.COLLABORATOR,
                company_id=company.id,
                email=f"pessoa{n}@bench.test",
                name=f"Pessoa {n}",
            )
            db.session.add(person)
            db.session.flush()
            machine = Machine(
                tenant_id=tenant.id, company_id=company.id, hostname=f"pc-{n:04d}", assigned_user_id=person.id
            )
            db.session.add(machine)
            db.session.flush()
            token, _ = issue_token(machine)
            presence.touch(machine.id, now)
            ticket = create_ticket(tenant_id=tenant.id, requester=person, subject=f"Chat {n}")
            ticket.machine_id = machine.id
            db.session.flush()
            start_session(agent, ticket)
            pairs.append((token, ticket.reference))
        db.session.commit()
        cookie = app.session_interface.get_signing_serializer(app).dumps(
            {"_user_id": str(agent.id), "_fresh": True}
        )
    return pairs, cookie


def start_servers(env: dict, sessions: int) -> list[subprocess.Popen]:
    """One gunicorn process per port, each with a thread for every socket it will hold."""
    threads = {"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": str(sessions + 32)}
    return [start_gunicorn(ROOT, {**env, **threads, "PORT": str(port)}, port) for port in PORTS]


def server_cpu(servers: list[subprocess.Popen]) -> float:
    """CPU seconds used so far by the gunicorn masters and their workers."""
    total = 0.0
    for server in servers:
        process = psutil.Process(server.pid)
        for each in [process, *process.children(recursive=True)]:
            times = each.cpu_times()
            total += times.user + times.system
    return total


async def redis_round_trip(url: str, samples: int = 2000) -> list[float]:
    """Publish → receive on one channel, one message at a time: the floor under any fan-out."""
    client = aioredis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.subscribe("bench:rtt")
    await pubsub.get_message(timeout=1)
    latencies = []
    for _ in range(samples):
        sent = time.perf_counter()
        await client.publish("bench:rtt", b"x")
        while (message := await pubsub.get_message(timeout=1)) is None or message["type"] != "message":
            pass
        latencies.append((time.perf_counter() - sent) * 1000)
    await pubsub.aclose()
    await client.aclose()
    return latencies


class Tally:
    def __init__(self):
        self.sent: dict[tuple[int, str], int] = Counter()  # (session, side) -> messages acknowledged
        self.received: Counter = Counter()  # (session, side, n) -> times received by the other side
        self.latencies: list[float] = []
        self.store_latencies: list[float] = []  # send → "sent" (stored and committed)
        self.errors: Counter = Counter()
        self.connect_seconds = 0.0
        self.connect_latencies: list[float] = []
        self.timeline: list[tuple[float, float]] = []  # (seconds into the exchange, latency ms)


async def connect(index, token, reference, cookie) -> tuple:
    """Both sockets of one session, subscribed: the server has answered the "ping" sent after
    "subscribe" (frames are handled in order), so the backlog is read and live events flow."""
    started = time.perf_counter()
    device = await websockets.connect(
        f"ws://127.0.0.1:{PORTS[0]}/ws/chat",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=60,
    )
    staff = await websockets.connect(
        f"ws://127.0.0.1:{PORTS[1]}/ws/chat",
        additional_headers={"Cookie": f"session={cookie}"},
        origin=f"http://127.0.0.1:{PORTS[1]}",
        open_timeout=60,
    )
    for ws in (device, staff):
        await ws.send(json.dumps({"type": "subscribe", "ticket": reference, "lastId": 0}))
        await ws.send(json.dumps({"type": "ping"}))
    for ws in (device, staff):
        while json.loads(await ws.recv())["type"] != "pong":
            pass
    return device, staff, (time.perf_counter() - started) * 1000


async def converse(index, reference, device, staff, tally, start_at, stop_at, rate):
    pending = {"d": [], "s": []}  # send times per socket, answered in order by "sent" frames

    async def read(ws, side):
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "message":
                _, session, sender, number, sent_at = frame["message"]["body"].split("|")
                if sender != side:
                    tally.received[(int(session), sender, int(number))] += 1
                    tally.latencies.append((time.perf_counter() - float(sent_at)) * 1000)
                    tally.timeline.append((float(sent_at) - start_at, tally.latencies[-1]))
            elif frame["type"] == "sent":
                tally.sent[(index, side)] += 1
                tally.store_latencies.append((time.perf_counter() - pending[side].pop(0)) * 1000)
            elif frame["type"] == "error":
                tally.errors[frame["code"]] += 1

    async def write(ws, side):
        # A Poisson process from the start: waits drawn the same way before the first message and
        # between messages, so the load is `rate` per side all along (no burst at the start).
        first_at = start_at + random.expovariate(rate)
        await asyncio.sleep(max(0.0, min(first_at, stop_at) - time.perf_counter()))
        number = 0
        while time.perf_counter() < stop_at:
            number += 1
            now = time.perf_counter()
            pending[side].append(now)
            body = f"b|{index}|{side}|{number}|{now!r}"
            await ws.send(json.dumps({"type": "send", "ticket": reference, "body": body}))
            await asyncio.sleep(min(random.expovariate(rate), max(0.0, stop_at - time.perf_counter())))

    readers = [asyncio.create_task(read(device, "d")), asyncio.create_task(read(staff, "s"))]
    await asyncio.gather(write(device, "d"), write(staff, "s"))
    return readers


async def run_chat(pairs, cookie, seconds, rate, on_connected) -> Tally:
    tally = Tally()
    # Every session connects at once, as after a server restart; the exchange starts once all are in.
    opened = time.perf_counter()
    sockets = await asyncio.gather(*(connect(i, token, ref, cookie) for i, (token, ref) in enumerate(pairs)))
    tally.connect_seconds = time.perf_counter() - opened
    tally.connect_latencies = [connect_ms for _, _, connect_ms in sockets]
    on_connected()
    start_at = time.perf_counter() + 0.2
    stop_at = start_at + seconds
    readers = await asyncio.gather(
        *(
            converse(i, ref, device, staff, tally, start_at, stop_at, rate)
            for i, ((_, ref), (device, staff, _)) in enumerate(zip(pairs, sockets, strict=True))
        )
    )
    await asyncio.sleep(3.0)  # drain: everything sent must have arrived by now
    for (device, staff, _), tasks in zip(sockets, readers, strict=True):
        for task in tasks:
            task.cancel()
        await device.close()
        await staff.close()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--timeline", action="store_true", help="also print latency per 2-second slice")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.1,
        help="messages per second per side of each session (0.1 = one every 10 s, a brisk human chat)",
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_CHAT_DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    recreate_database(url)
    env = production_env(ROOT, url, redis_url, "bench-chat")
    migrate(ROOT, env)
    pairs, cookie = seed(env, args.sessions)
    servers = start_servers(env, args.sessions)
    try:
        redis_rtt = asyncio.run(redis_round_trip(redis_url))
        cpu = {"start": server_cpu(servers)}

        def connected():
            cpu["connected"] = server_cpu(servers)
            cpu["client"] = time.process_time()

        tally = asyncio.run(run_chat(pairs, cookie, args.seconds, args.rate, connected))
        seconds = args.seconds
        cpu_used = server_cpu(servers) - cpu["connected"]
        client_cpu = time.process_time() - cpu["client"]
        connect_cpu = cpu["connected"] - cpu["start"]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)

    sent = sum(tally.sent.values())
    delivered = len(tally.received)
    duplicated = sum(count - 1 for count in tally.received.values() if count > 1)
    expected = {(i, side, n) for (i, side), total in tally.sent.items() for n in range(1, total + 1)}
    lost = len(expected - set(tally.received))
    lat = tally.latencies
    chat_p50, chat_p99 = percentile(lat, 0.50), percentile(lat, 0.99)
    rtt_p50, rtt_p99 = percentile(redis_rtt, 0.50), percentile(redis_rtt, 0.99)
    print(
        f"chat bench: {args.sessions} sessions (device sockets on :{PORTS[0]}, staff on :{PORTS[1]}, via Redis)"
    )
    print(
        f"  connecting {len(pairs) * 2} sockets at once (handshake, auth, subscribe): all in "
        f"{tally.connect_seconds:.1f} s, per session p50 {percentile(tally.connect_latencies, 0.5):.0f} ms, "
        f"p99 {percentile(tally.connect_latencies, 0.99):.0f} ms; web CPU {connect_cpu:.1f} s"
    )
    print(
        f"  messages: {sent} sent and stored, {delivered} delivered in {seconds:.0f} s = {delivered / seconds:.0f} msg/s"
    )
    print(
        f"  latency send→receive: p50 {chat_p50:.1f} ms, p95 {percentile(lat, 0.95):.1f} ms, "
        f"p99 {chat_p99:.1f} ms, max {max(lat, default=float('nan')):.1f} ms"
    )
    stored = tally.store_latencies
    print(
        f"  of which storing (send → 'sent' ack): p50 {percentile(stored, 0.5):.1f} ms, "
        f"p99 {percentile(stored, 0.99):.1f} ms"
    )
    print(f"  lost {lost}, duplicated {duplicated}, error frames {dict(tally.errors) or 0}")
    print(
        f"  web processes CPU: {cpu_used:.1f} s over the run "
        f"({cpu_used / seconds * 100:.0f}% of one core; {cpu_used * 1000 / max(sent, 1):.1f} ms per message)"
    )
    print(f"  bench client CPU (same machine): {client_cpu:.1f} s")
    print(f"  raw Redis pub/sub round trip: p50 {rtt_p50:.2f} ms, p99 {rtt_p99:.2f} ms")
    print(f"  ratio to Redis round trip: p50 {chat_p50 / rtt_p50:.1f}x, p99 {chat_p99 / rtt_p99:.1f}x")
    verdict = chat_p99 < 100 and lost == 0 and duplicated == 0
    print(f"  target (p99 < 100 ms, nothing lost or duplicated): {'met' if verdict else 'NOT met'}")
    if args.timeline:
        slices: dict[int, list[float]] = {}
        for at, latency in tally.timeline:
            slices.setdefault(int(at // 2) * 2, []).append(latency)
        for at, values in sorted(slices.items()):
            print(
                f"    {at:3d} s: {len(values):4d} messages, p50 {percentile(values, 0.5):6.1f} ms, "
                f"p99 {percentile(values, 0.99):6.1f} ms"
            )
    sys.exit(0 if lost == 0 and duplicated == 0 else 1)


if __name__ == "__main__":
    main()
