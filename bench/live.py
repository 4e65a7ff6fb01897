"""Benchmark: the change feed reaching every open screen, two server processes through Redis.

    .venv/bin/python bench/live.py                       # 200 staff + 100 portal screens, 50 changes/s, 20 s
    .venv/bin/python bench/live.py --staff 50 --portal 20 --seconds 10

Seeds its own database (BENCH_LIVE_DATABASE_URL, default the local `chamados_bench_live`,
recreated each run): one tenant, an agent, 100 portal people each with tickets, 20 tickets
of people nobody watches. Starts two gunicorn processes (gevent) sharing PostgreSQL and Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/12): every staff screen's socket connects to
process A, every portal screen's to process B. Writer processes (this script, again; two
by default, sharing the rate as web workers share requests) make
changes through the app's services at a steady rate — public comments, internal notes, status
and priority changes — and notes the moment each commit returned; every screen follows the
feed from the number its page was built at. Halfway, every socket is closed and reopened with
the last number it saw, as after a network blip.

Prints the latency from commit to each eligible screen (p50/p95/p99/max) for the changes made
while the screens were connected, beside a raw Redis pub/sub round trip measured in the same
run; for the changes made during the blip, how long after the sockets were back they arrived; and per kind of screen: events missed, duplicated
and shown to a screen that may not see them (an internal note, another person's ticket).
Targets: p99 < 150 ms; 0 missed, 0 duplicated, 0 shown wrongly (exit status 1 otherwise).
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
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from bench._db import migrate, production_env, recreate_database, start_gunicorn  # noqa: E402
from bench.chat import percentile, redis_round_trip  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_live"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
STAFF_PORT, PORTAL_PORT = 5397, 5398
TICKETS_PER_PERSON = 2
UNWATCHED_TICKETS = 20


def _app(env: dict):
    from app import create_app

    return create_app({"ENV": env, "INSTANCE_PATH": Path(env["INSTANCE_PATH"])})


def seed(env: dict, people: int) -> dict:
    """The tenant, the agent, the portal people and their tickets. Returns what the screens need."""
    from app.extensions import db
    from app.models import Company, Role, Tenant, User
    from app.services import tenancy
    from app.services.tickets import assign, create_ticket

    app = _app(env)
    with app.app_context():
        tenant = Tenant(key="bench", name="Bench")
        db.session.add(tenant)
        db.session.flush()
        with tenancy.scope(tenant.id):
            company = Company(tenant_id=tenant.id, name="Empresa Bench", apelido="bench")
            agent = User(tenant_id=tenant.id, role=Role.AGENT, email="agente@bench.test", name="Agente Bench")
            db.session.add_all([company, agent])
            db.session.flush()
            persons = [
                User(
                    tenant_id=tenant.id,
                    role=Role.COLLABORATOR,
                    company_id=company.id,
                    email=f"pessoa{n}@bench.test",
                    name=f"Pessoa {n}",
                )
                for n in range(people + 1)  # the last one's tickets nobody watches
            ]
            db.session.add_all(persons)
            db.session.flush()
            tickets = {}  # reference -> requester id
            for person in persons[:-1]:
                for n in range(TICKETS_PER_PERSON):
                    ticket = create_ticket(tenant_id=tenant.id, requester=person, subject=f"Chamado {n}")
                    tickets[ticket.reference] = person.id
            for n in range(UNWATCHED_TICKETS):
                ticket = create_ticket(tenant_id=tenant.id, requester=persons[-1], subject=f"Outro {n}")
                tickets[ticket.reference] = persons[-1].id
            db.session.flush()
            for ticket_ref in list(tickets):
                from app.models import Ticket

                row = db.session.scalar(db.select(Ticket).where(Ticket.reference == ticket_ref))
                assign(row, agent.id, agent)
            db.session.commit()
            serializer = app.session_interface.get_signing_serializer(app)

            def cookie(user_id):
                return serializer.dumps({"_user_id": str(user_id), "_fresh": True})

            start_seq = db.session.scalar(db.select(Tenant.change_seq).where(Tenant.id == tenant.id))
            return {
                "tenant": tenant.id,
                "agent": agent.id,
                "staff_cookie": cookie(agent.id),
                "people": [(p.id, cookie(p.id)) for p in persons[:-1]],
                "tickets": tickets,
                "start_seq": start_seq,
            }


def writer(env: dict, rate: float, seconds: float, tickets: dict, agent_id: int, tenant_id: int) -> None:
    """The writer process: changes at `rate`/s; prints one JSON line per commit (seqs, time, facts)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from app.extensions import db
    from app.models import Ticket, User
    from app.services import feed, tenancy
    from app.services.tickets import add_comment, change_priority

    app = _app(env)
    references = [int(reference) for reference in tickets]
    numbered: list[int] = []

    # Registered after the feed's own listener, so it runs once this commit's events have
    # their numbers: with several writers, each one reports only its own.
    @event.listens_for(Session, "before_commit")
    def _note_numbers(session):
        numbered.extend(each["seq"] for each in session.info.get(feed._NUMBERED, ()))

    with app.app_context(), tenancy.scope(tenant_id):
        agent = db.session.get(User, agent_id)
        stop_at = time.monotonic() + seconds
        due = time.monotonic()
        while time.monotonic() < stop_at:
            # A Poisson process on the clock: the time a change takes is not added to the wait.
            due += random.expovariate(rate)
            time.sleep(max(0.0, due - time.monotonic()))
            reference = random.choice(references)
            ticket = db.session.scalar(db.select(Ticket).where(Ticket.reference == reference))
            kind = random.choice(("comment.public", "comment.internal", "ticket.priority"))
            if kind == "ticket.priority":
                change_priority(ticket, "HIGH" if ticket.priority.value != "HIGH" else "LOW", agent)
            else:
                add_comment(
                    ticket, agent, "<p>Bench</p>", "PUBLIC" if kind == "comment.public" else "INTERNAL"
                )
            db.session.commit()  # the unit of work a request would end: the change and its event
            committed = time.monotonic()
            for number in numbered:
                facts = {
                    "seq": number,
                    "at": committed,
                    "ticket": reference,
                    "internal": kind == "comment.internal",
                }
                print(json.dumps(facts), flush=True)
            numbered.clear()


class Screen:
    """One open page: its socket, the feed numbers it got, and when."""

    def __init__(self, kind: str, port: int, cookie: str, user_id: int | None, start_seq: int):
        self.kind, self.port, self.cookie, self.user_id = kind, port, cookie, user_id
        self.last = start_seq
        self.received: Counter = Counter()
        self.at: dict[int, float] = {}
        self.ws = None
        self.reader = None

    async def open(self) -> None:
        self.ws = await websockets.connect(
            f"ws://127.0.0.1:{self.port}/ws/chat",
            additional_headers={"Cookie": f"session={self.cookie}"},
            origin=f"http://127.0.0.1:{self.port}",
            open_timeout=60,
            ping_interval=None,
        )
        await self.ws.send(json.dumps({"type": "feed", "after": self.last}))
        self.reader = asyncio.get_running_loop().create_task(self.read(self.ws))
        self.opened_at = time.monotonic()

    async def read(self, ws) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                arrived = time.monotonic()
                if frame["type"] in ("change", "changes"):
                    for change in frame["items"] if frame["type"] == "changes" else [frame]:
                        self.received[change["seq"]] += 1
                        self.at.setdefault(change["seq"], arrived)
                        self.last = max(self.last, change["seq"])
                elif frame["type"] == "feed_position":
                    self.last = max(self.last, frame["seq"])
                elif frame["type"] == "feed_reset":
                    self.received["reset"] += 1
        except websockets.ConnectionClosed:
            pass

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


async def run_screens(args, seeded, env) -> tuple[list[Screen], list[dict], list[float]]:
    start = seeded["start_seq"]
    screens = [Screen("staff", STAFF_PORT, seeded["staff_cookie"], None, start) for _ in range(args.staff)]
    people = seeded["people"][: args.portal]
    screens += [Screen("portal", PORTAL_PORT, cookie, user_id, start) for user_id, cookie in people]
    await asyncio.gather(*(screen.open() for screen in screens))
    await asyncio.sleep(0.5)
    command = [
        sys.executable,
        __file__,
        "--write",
        json.dumps(
            [args.rate / args.writers, args.seconds, seeded["tickets"], seeded["agent"], seeded["tenant"]]
        ),
    ]
    # Several writer processes share the rate, as several web workers would take the requests.
    processes = [
        await asyncio.create_subprocess_exec(*command, env=env, stdout=subprocess.PIPE)
        for _ in range(args.writers)
    ]
    await asyncio.sleep(args.seconds / 2)
    # A network blip: every socket closes and reopens with the last number it saw.
    blip = [time.monotonic()]
    await asyncio.gather(*(screen.close() for screen in screens))
    await asyncio.gather(*(screen.open() for screen in screens))
    blip.append(time.monotonic())
    outputs = await asyncio.gather(*(process.communicate() for process in processes))
    await asyncio.sleep(2.0)  # late deliveries
    await asyncio.gather(*(screen.close() for screen in screens))
    lines = [line for output, _ in outputs for line in output.decode().splitlines()]
    written = [json.loads(line) for line in lines if line.startswith("{")]
    return screens, written, blip


def tally(screens: list[Screen], written: list[dict], tickets: dict, blip: list[float]) -> dict:
    """Live latency: commit → screen for changes made while the screens were connected. The
    changes made during the blip are counted apart: from the socket being back to delivery."""
    by_seq = {each["seq"]: each for each in written}
    figures = defaultdict(Counter)
    latencies, catch_up = [], []
    slices = defaultdict(list)  # seconds into the run (2-s slices) -> latencies
    first_at = min((each["at"] for each in written), default=0.0)
    for screen in screens:
        eligible = {
            seq
            for seq, each in by_seq.items()
            if screen.kind == "staff"
            or (not each["internal"] and tickets[str(each["ticket"])] == screen.user_id)
        }
        got = {seq for seq in screen.received if isinstance(seq, int) and seq in by_seq}
        figures[screen.kind]["screens"] += 1
        figures[screen.kind]["expected"] += len(eligible)
        figures[screen.kind]["missed"] += len(eligible - got)
        figures[screen.kind]["wrong"] += len(got - eligible)
        figures[screen.kind]["duplicated"] += sum(
            n - 1 for seq, n in screen.received.items() if seq in got and n > 1
        )
        figures[screen.kind]["resets"] += screen.received["reset"]
        for seq in got & eligible:
            committed = by_seq[seq]["at"]
            if blip[0] <= committed <= blip[1]:
                catch_up.append((screen.at[seq] - max(committed, screen.opened_at)) * 1000)
                continue
            latencies.append((screen.at[seq] - committed) * 1000)
            slices[int((committed - first_at) // 2) * 2].append(latencies[-1])
    return {"kinds": figures, "latencies": latencies, "slices": slices, "catch_up": catch_up, "blip": blip}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--staff", type=int, default=200)
    parser.add_argument("--portal", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0, help="changes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--writers", type=int, default=2, help="writer processes sharing the rate")
    parser.add_argument("--worker-class", default="gevent", help="the socket servers': gevent or gthread")
    parser.add_argument("--timeline", action="store_true", help="also print latency per 2-second slice")
    parser.add_argument("--write", help=argparse.SUPPRESS)  # the writer process
    args = parser.parse_args()
    url = os.environ.get("BENCH_LIVE_DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = production_env(
        ROOT,
        url,
        redis_url,
        "bench-live",
        CHAT_ALLOWED_ORIGINS=f"http://127.0.0.1:{STAFF_PORT},http://127.0.0.1:{PORTAL_PORT}",
    )
    if args.write:
        rate, seconds, tickets, agent_id, tenant_id = json.loads(args.write)
        writer(env, rate, seconds, tickets, agent_id, tenant_id)
        return
    recreate_database(url)
    migrate(ROOT, env)
    seeded = seed(env, args.portal)
    seeded["tickets"] = {str(k): v for k, v in seeded["tickets"].items()}
    # The sockets pool as production runs it (README, "Sizing the sockets"): gevent by default.
    threads = {"WEB_CONCURRENCY": "1", "GUNICORN_WORKER_CLASS": args.worker_class}
    if args.worker_class == "gthread":
        threads["GUNICORN_THREADS"] = str(max(args.staff, args.portal) + 32)
    servers = [
        start_gunicorn(ROOT, {**env, **threads, "PORT": str(port)}, port)
        for port in (STAFF_PORT, PORTAL_PORT)
    ]
    try:
        rtt = asyncio.run(redis_round_trip(redis_url))
        screens, written, blip = asyncio.run(run_screens(args, seeded, env))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    result = tally(screens, written, seeded["tickets"], blip)
    report(args, result, written, rtt)


def report(args, result: dict, written: list[dict], rtt: list[float]) -> None:
    lat = result["latencies"]
    print(
        f"live bench: {args.staff} staff screens (process A) + {args.portal} portal screens (process B), "
        f"{args.worker_class}, through Redis; {len(written)} changes in {args.seconds:.0f} s ({len(written) / args.seconds:.0f}/s); "
        "every socket reconnected halfway"
    )
    print(
        f"  commit → eligible screen (while connected): {len(lat)} deliveries, p50 {percentile(lat, 0.5):.1f} ms, "
        f"p95 {percentile(lat, 0.95):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms, max {max(lat, default=float('nan')):.1f} ms"
    )
    caught, blip = result["catch_up"], result["blip"]
    sockets = sum(figures["screens"] for figures in result["kinds"].values())
    print(
        f"  the blip: {sockets} sockets closed and reopened in {(blip[1] - blip[0]) * 1000:.0f} ms; "
        f"{len(caught)} deliveries of changes made meanwhile arrived p50 {percentile(caught, 0.5):.0f} ms, "
        f"max {max(caught, default=float('nan')):.0f} ms after its socket was back"
    )
    rtt50, rtt99 = percentile(rtt, 0.5), percentile(rtt, 0.99)
    print(f"  raw Redis pub/sub round trip: p50 {rtt50:.2f} ms, p99 {rtt99:.2f} ms")
    print(
        f"  ratio to Redis: p50 {percentile(lat, 0.5) / rtt50:.0f}x, p99 {percentile(lat, 0.99) / rtt99:.0f}x"
    )
    bad = 0
    for kind, figures in result["kinds"].items():
        print(
            f"  {kind}: {figures['screens']} screens, {figures['expected']} deliveries due; missed {figures['missed']}, "
            f"duplicated {figures['duplicated']}, shown wrongly {figures['wrong']}, reload offers {figures['resets']}"
        )
        bad += figures["missed"] + figures["duplicated"] + figures["wrong"] + figures["resets"]
    enough = len(written) >= args.rate * args.seconds * 0.5  # the writer kept (about) its rate
    if args.timeline:
        for at, values in sorted(result["slices"].items()):
            print(
                f"    {at:3d} s: p50 {percentile(values, 0.5):7.1f} ms, p99 {percentile(values, 0.99):7.1f} ms"
            )
    met = percentile(lat, 0.99) < 150 and bad == 0 and enough
    print(f"  target (p99 < 150 ms; 0 missed, duplicated or shown wrongly): {'met' if met else 'NOT met'}")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
