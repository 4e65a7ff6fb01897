"""Benchmark: the staff pages in a real browser, from navigation to content visible.

    .venv/bin/python bench/pages.py                                  # 1 000 000 tickets, 5 000 devices
    .venv/bin/python bench/pages.py --tickets 20000 --devices 200 --navigations 10   # a quick try

Seeds its own database (BENCH_PAGES_DATABASE_URL, default the local `chamados_bench_pages`,
created if missing) with the ticket list bench's tickets (bench/ticket_list.py: a helpdesk's
shape) and N devices: one per person of the clients (the first persons file the most tickets),
each with an inventory snapshot (120–320 programs, ~40 KB; every tenth also an older one, so the
page lists what changed), a token, its identifiers, a last-seen time (six in seven online), a
metric sample every 5 minutes of the last 24 hours when online (the page's chart), and open
alerts on one in 25. The open tickets are linked to their requester's device, and the measured
ticket gets a conversation of a few comments. Both parts are seeded once and reused while the
database holds that size and shape (the devices' size is noted as the database's comment); each
run only moves the last-seen times and, when an hour old, the metric samples back to now.

gunicorn serves the app with production settings (PostgreSQL + Redis db 10, flushed) and Debian's
Chromium, headless through Playwright (1440×900, signed in through /login, one tab, caches warm
after the warm-up rounds), navigates to each page in turn, round after round:

- ticket list  /chamados: the table's rows, and the count htmx loads after the page ("N chamados");
- ticket       /chamados/<n>: the header, the timeline and the sidebar (requester, device);
- Painel       /: the counters and the "Últimos chamados" rows;
- device list  /dispositivos: the table's rows;
- device page  /dispositivos/<id>: the header, the 24-hour chart and the inventory (all rendered on
  the server; the chart is SVG), of the device with the most tickets.

"Navigation to content visible" ("shown") is timed by the page itself: a script injected before
the page's own checks, on every animation frame (the step just before the browser paints), whether
all of those are there and visible (a box of some size, not hidden; the count no longer
"Contando…"), and notes the first frame that shows them, in ms from the navigation's start. Beside
it, "goto→seen": page.goto() until Playwright learnt it, which adds the harness's own round trips
(tens of ms on a busy 2-core machine). The chat widget and the portal chat entry every page loads in
the background are not waited for: nobody reads them to start. The server's share is the document's
responseStart − requestStart (Navigation Timing: the app's time plus a loopback round trip; the app
sends no Server-Timing header), plus the same for the htmx fragments waited for (the list's count).
The baseline, measured in the same rounds: the same tab navigating to GET /health/live, a trivial
JSON answer of the same server, until its text is shown — what Chromium and the network cost alone.
Target: p95 < 300 ms per page at 1 000 000 tickets and 5 000 devices (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from redis import Redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import ProgrammingError  # noqa: E402

from bench._db import migrate, production_env, recreate_database, start_gunicorn  # noqa: E402
from bench.ticket_list import SEED_SHAPE, TENANT_KEY, ensure_database, percentile, seed  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/chamados_bench_pages"
DEFAULT_REDIS = "redis://127.0.0.1:6379/10"  # live.py has 12
PORT = 5400  # each bench its own port (live.py has 5397-5398)
CHROMIUM = "/usr/bin/chromium"
TARGET_P95_MS = 300.0
PASSWORD = "bench-senha-forte-123"
DEVICE_SHAPE = "bench pages devices (forma 1)"  # a database seeded in another shape is reseeded
SAMPLE_SECONDS = 300  # METRIC_SAMPLE_SECONDS, the default
CATALOGUE = 400  # programs a device's software is drawn from
# Online: all but one in seven (by the number in the hostname, so a run keeps each one's state).
OFFLINE_SQL = "substring(m.hostname from 4)::int % 7 = 3"
VENDORS = ["Microsoft", "Adobe", "Google", "Mozilla", "Oracle", "Dell", "Intel", "Realtek", "TOTVS", "Zoom"]
MODELS = [("Dell Inc.", "OptiPlex 7090"), ("LENOVO", "ThinkCentre M70q"), ("HP", "EliteDesk 800 G6")]
CONVERSATION = [
    ("requester", "PUBLIC", "<p>A impressora da recepção parou de imprimir desde ontem à tarde.</p>"),
    ("agent", "PUBLIC", "<p>Olá! Pode me dizer se aparece alguma mensagem no visor da impressora?</p>"),
    ("requester", "PUBLIC", "<p>Aparece <strong>erro 49.4C02</strong>, e ela reinicia sozinha.</p>"),
    ("agent", "INTERNAL", "<p>Firmware antigo; o mesmo caso da filial 2 no mês passado.</p>"),
    ("agent", "PUBLIC", "<p>Vou acessar o computador para limpar a fila e atualizar o driver.</p>"),
    ("requester", "PUBLIC", "<p>Pode sim, estou liberando agora.</p>"),
    ("agent", "PUBLIC", "<p>Fila limpa e driver atualizado. Pode testar uma impressão, por favor?</p>"),
    ("requester", "PUBLIC", "<p>Imprimiu a página de teste, mas a segunda folha saiu manchada.</p>"),
]


def read_state(url: str) -> tuple[str, int] | None:
    """The bench tenant's shape and ticket count, or None when the database has none yet."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT name, (SELECT count(*) FROM tickets WHERE tenant_id = tenants.id) "
                    "FROM tenants WHERE key = :k"
                ),
                {"k": TENANT_KEY},
            ).first()
            return tuple(row) if row else None
    except ProgrammingError:  # not migrated yet
        return None
    finally:
        engine.dispose()


def inventory(number: int, variant: int = 0) -> dict:
    """A device's inventory as the agent reports it (`variant` 1: a week earlier)."""
    rng = random.Random(number)
    manufacturer, model = MODELS[number % len(MODELS)]
    programs = sorted(rng.sample(range(CATALOGUE), 120 + rng.randrange(200)))
    if variant:
        programs = programs[1:]  # one program installed since
    disks = [{"mount": "C:", "fs": "NTFS", "totalBytes": 512110190592, "freeBytes": 90_000_000_000 + number}]
    if number % 4 == 0:
        disks.append({"mount": "D:", "fs": "NTFS", "totalBytes": 1000204886016, "freeBytes": 400_000_000_000})
    return {
        "hardware": {
            "manufacturer": manufacturer,
            "model": model,
            "cpu": "Intel Core i5-10500" if number % 3 else "Intel Core i7-12700",
            "cores": 12 if number % 3 else 20,
            "memoryBytes": 17179869184 if number % 5 else 34359738368,
            "serial": f"SN{number:06d}",
            "uuid": str(uuid.UUID(int=rng.getrandbits(128))).upper(),
        },
        "os": {"name": "Windows 11 Pro", "version": "11", "build": "26100", "arch": "x86_64"}
        if number % 5
        else {"name": "Windows 10 Pro", "version": "10", "build": "19045", "arch": "x86_64"},
        "disks": disks,
        "network": [
            {
                "name": "Ethernet",
                "mac": mac_address(number),
                "ipv4": [f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"],
            }
        ],
        "software": [
            {
                "name": f"{VENDORS[k % len(VENDORS)]} Programa {k:03d}",
                "version": f"{k % 9}.{(k * number + variant) % 4}.{k % 7}",
                "publisher": f"{VENDORS[k % len(VENDORS)]} Corporation",
                "id": str(uuid.UUID(int=random.Random(k).getrandbits(128))).upper(),
                "installDate": f"2025{1 + k % 12:02d}{1 + k % 28:02d}",
            }
            for k in programs
        ],
    }


def mac_address(number: int) -> str:
    return f"aa:bb:cc:{number >> 16 & 255:02x}:{number >> 8 & 255:02x}:{number & 255:02x}"


def refresh_presence(db, tenant_id: int) -> None:
    """Every device seen now (online: within the last 4 minutes) or days ago (offline)."""
    db.session.execute(
        text(f"""
        UPDATE machine_presence p SET
            last_seen_at = CASE WHEN {OFFLINE_SQL} THEN now() - make_interval(days => 1 + m.id % 30)
                                ELSE now() - make_interval(secs => m.id % 240) END,
            last_sample_at = CASE WHEN {OFFLINE_SQL} THEN NULL ELSE now() - make_interval(secs => m.id % 240) END
        FROM machines m WHERE m.id = p.machine_id AND m.tenant_id = :t
    """),
        {"t": tenant_id},
    )


def refresh_samples(db, tenant_id: int) -> None:
    """The 24-hour chart's samples, up to now; rewritten when the newest is an hour old."""
    newest = db.session.scalar(
        text(
            "SELECT max(taken_at) > now() - interval '1 hour' FROM metric_samples s "
            "JOIN machines m ON m.id = s.machine_id WHERE m.tenant_id = :t"
        ),
        {"t": tenant_id},
    )
    if newest:
        return
    started = time.perf_counter()
    db.session.execute(
        text("DELETE FROM metric_samples WHERE machine_id IN (SELECT id FROM machines WHERE tenant_id = :t)"),
        {"t": tenant_id},
    )
    db.session.execute(
        text(f"""
        INSERT INTO metric_samples (machine_id, taken_at, cpu_percent, memory_percent, disk_free_percent,
            uptime_seconds, logged_user)
        SELECT m.id, now() - make_interval(secs => s * :step + m.id % 240),
               round((8 + 30 * (1 + sin(s / 9.0 + m.id)) / 2 + (m.id * 31 + s * 17) % 25)::numeric, 1),
               round((40 + 25 * (1 + cos(s / 40.0 + m.id)) / 2 + (m.id * 7 + s * 3) % 10)::numeric, 1),
               15 + m.id % 60, 86400 * (1 + m.id % 9) - s * :step, 'pessoa' || m.assigned_user_id
        FROM machines m, generate_series(0, :samples - 1) s
        WHERE m.tenant_id = :t AND NOT ({OFFLINE_SQL})
    """),
        {"t": tenant_id, "step": SAMPLE_SECONDS, "samples": 24 * 3600 // SAMPLE_SECONDS},
    )
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE metric_samples"))
    print(f"seed: metric samples of the last 24 hours in {time.perf_counter() - started:.1f} s")


def seed_devices(db, tenant_id: int, devices: int) -> None:
    """N devices for the bench tenant's clients, in bulk, unless the database already has them."""
    from sqlalchemy import insert, update

    from app.devices.inventory import inventory_hash
    from app.models import AlertSeverity, Machine, MachineAlert, MachineIdentifier, MachineToken
    from app.models.types import utcnow

    session = db.session
    database = session.scalar(text("SELECT current_database()"))
    marker = f"{DEVICE_SHAPE}: {devices}"
    noted = session.scalar(
        text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :d"),
        {"d": database},
    )
    if noted == marker:
        print(f"seed: reusing {devices:,} devices")
        return
    started = time.perf_counter()
    session.execute(
        text("UPDATE tickets SET machine_id = NULL WHERE tenant_id = :t AND machine_id IS NOT NULL"),
        {"t": tenant_id},
    )
    session.execute(text("DELETE FROM machines WHERE tenant_id = :t"), {"t": tenant_id})  # cascades

    people = session.execute(
        text("SELECT id, company_id FROM users WHERE tenant_id = :t AND role = 'collaborator' ORDER BY id"),
        {"t": tenant_id},
    ).all()
    now = utcnow()
    ids = session.scalars(
        insert(Machine).returning(Machine.id, sort_by_parameter_order=True),
        [
            {
                "tenant_id": tenant_id,
                "company_id": people[i % len(people)][1],
                "hostname": f"pc-{i + 1:05d}",
                "display_name": f"Estação {i + 1}" if i % 10 == 5 else None,
                "fingerprint": hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
                "serial_numbers": [f"SN{i:06d}"],
                "mac_addresses": [mac_address(i)],
                "os_name": "Windows 11 Pro" if i % 5 else "Windows 10 Pro",
                "os_version": "11" if i % 5 else "10",
                "os_build": "26100" if i % 5 else "19045",
                "os_arch": "x86_64",
                "assigned_user_id": people[i % len(people)][0],
                "created_at": now - timedelta(days=400 - i % 400),
            }
            for i in range(devices)
        ],
    ).all()
    session.execute(
        text(
            "INSERT INTO machine_presence (machine_id, last_seen_at) "
            "SELECT id, now() FROM machines WHERE tenant_id = :t"
        ),
        {"t": tenant_id},
    )
    session.execute(
        insert(MachineToken),
        [
            {
                "machine_id": machine_id,
                "token_hash": hashlib.sha256(f"bench-token-{machine_id}".encode()).hexdigest(),
                "created_at": now,
                "expires_at": now.replace(year=now.year + 1),
            }
            for machine_id in ids
        ],
    )
    session.execute(
        insert(MachineIdentifier),
        [
            {"tenant_id": tenant_id, "machine_id": machine_id, "kind": kind, "value": value}
            for i, machine_id in enumerate(ids)
            for kind, value in (("serial", f"SN{i:06d}"), ("mac", mac_address(i)))
        ],
    )

    # Inventories: built and hashed here as the app does, written with COPY (~40 KB each).
    hashes = {}
    cursor = session.connection().connection.driver_connection.cursor()
    week_ago = now - timedelta(days=7)
    with cursor.copy(
        "COPY inventory_snapshots (machine_id, content_hash, inventory, created_at) FROM STDIN"
    ) as copy:
        for i, machine_id in enumerate(ids):
            if i % 10 == 0:
                older = inventory(i, variant=1)
                copy.write_row((machine_id, inventory_hash(older), orjson.dumps(older).decode(), week_ago))
            document = inventory(i)
            hashes[machine_id] = inventory_hash(document)
            copy.write_row((machine_id, hashes[machine_id], orjson.dumps(document).decode(), now))
    session.execute(update(Machine), [{"id": m, "inventory_hash": h} for m, h in hashes.items()])

    alerts = []
    for i, machine_id in enumerate(ids):
        if i % 25 == 0:
            alerts.append(("disk_low", AlertSeverity.WARNING, {"mount": "C:", "freePercent": 6}, machine_id))
        if i % 50 == 0:
            alerts.append(("cpu_high", AlertSeverity.CRITICAL, {"cpuPercent": 97}, machine_id))
    session.execute(
        insert(MachineAlert),
        [
            {
                "tenant_id": tenant_id,
                "machine_id": m,
                "kind": k,
                "severity": s,
                "details": d,
                "opened_at": now,
            }
            for k, s, d, m in alerts
        ],
    )
    # The open tickets are about their requester's device.
    session.execute(
        text(
            "UPDATE tickets t SET machine_id = m.id FROM machines m WHERE m.tenant_id = :t "
            "AND t.tenant_id = :t AND m.assigned_user_id = t.requester_id AND t.status <> 'RESOLVED'"
        ),
        {"t": tenant_id},
    )
    session.execute(
        text(f"COMMENT ON DATABASE \"{database}\" IS '{marker}'"),
    )
    session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # VACUUM too: the UPDATE above cleared the visibility map of the tickets' pages, and without
        # it the Painel's counts read 20 000 heap pages that a live database's autovacuum keeps set.
        for table in ("machines", "machine_presence", "inventory_snapshots", "machine_alerts", "tickets"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    print(f"seed: {devices:,} devices in {time.perf_counter() - started:.1f} s")


def pick_pages(db, tenant_id: int) -> tuple[int, int]:
    """(ticket reference, device id) to measure: the device with the most tickets, and its newest
    open assigned ticket, given a conversation through the app's services once."""
    from app.models import Ticket, User
    from app.services.tickets import add_comment

    machine_id, _count = db.session.execute(
        text(
            "SELECT machine_id, count(*) FROM tickets WHERE tenant_id = :t AND machine_id IS NOT NULL "
            "GROUP BY machine_id ORDER BY 2 DESC, 1 LIMIT 1"
        ),
        {"t": tenant_id},
    ).one()
    ticket = db.session.scalar(
        db.select(Ticket)
        .where(
            Ticket.tenant_id == tenant_id,
            Ticket.machine_id == machine_id,
            Ticket.status.in_(["IN_PROGRESS", "PAUSED", "PENDING"]),
            Ticket.assignee_id.is_not(None),
        )
        .order_by(Ticket.status != "IN_PROGRESS", Ticket.created_at.desc())
        .limit(1)
    )
    assert ticket is not None, f"device {machine_id} has no open assigned ticket: seed more tickets"
    has_comments = db.session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM comments WHERE ticket_id = :i)"), {"i": ticket.id}
    )
    if not has_comments:
        agent = db.session.get(User, ticket.assignee_id)
        for who, visibility, body in CONVERSATION:
            add_comment(ticket, agent if who == "agent" else ticket.requester, body, visibility)
        db.session.commit()
    return ticket.reference, machine_id


# Injected into every document before its own scripts: on each animation frame (the step just
# before the browser paints) it checks the page's content conditions, and notes the first frame
# that shows them all, in ms from the navigation's start (the document's time origin).
WATCH_JS = """(() => {
    const wanted = (%s)[location.pathname];
    if (!wanted) return;
    window.__contentAt = null;
    const shown = (el) => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
    };
    const ready = () => wanted.every(([selector, unless]) =>
        Array.from(document.querySelectorAll(selector)).some(
            (el) => shown(el) && !(unless && el.textContent.includes(unless))));
    const frame = () => {
        if (ready()) window.__contentAt = performance.now();
        else requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
})();"""
# What the page says of itself once its content is shown (Navigation and Resource Timing).
TIMING_JS = """(fragments) => {
    const n = performance.getEntriesByType("navigation")[0];
    const parts = performance.getEntriesByType("resource")
        .filter((e) => fragments.some((f) => e.name.includes(f)))
        .map((e) => e.responseStart - e.requestStart);
    return {shown: window.__contentAt, document: n.responseStart - n.requestStart, fragments: parts};
}"""


def navigate(page, url: str, fragments: list[str]) -> tuple[float, float, float]:
    """One navigation: ms to the first frame showing the content (as the page timed it), ms from
    page.goto() until Playwright saw that, and ms of it the server took."""
    started = time.perf_counter()
    response = page.goto(url, wait_until="commit")
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_function("() => window.__contentAt !== null", timeout=30_000)
    seen = (time.perf_counter() - started) * 1000
    timing = page.evaluate(TIMING_JS, fragments)
    assert len(timing["fragments"]) == len(fragments), (url, timing)
    return timing["shown"], seen, timing["document"] + sum(timing["fragments"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=5_000)
    parser.add_argument("--navigations", type=int, default=30, help="measured navigations per page")
    parser.add_argument("--warmup", type=int, default=3, help="rounds not measured, first")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print("needs Debian's chromium (make test-deps)", file=sys.stderr)
        return 2

    url = os.environ.get("BENCH_PAGES_DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = production_env(ROOT, url, redis_url, "bench-pages", PORT=str(PORT))
    ensure_database(url)
    state = read_state(url)
    if state is not None and state != (SEED_SHAPE, args.tickets):
        # Devices, comments and what the app wrote about them hang on the tickets: start afresh.
        print(
            f"seed: {state[1]:,} tickets of shape {state[0]!r} present, {args.tickets:,} wanted: rebuilding"
        )
        recreate_database(url)
    migrate(ROOT, env)
    Redis.from_url(redis_url).flushdb()

    from app import create_app
    from app.extensions import db
    from app.models import User
    from app.services.users import set_password

    app = create_app({"ENV": env, "INSTANCE_PATH": Path(env["INSTANCE_PATH"])})
    with app.app_context():
        tenant_id = seed(db, args.tickets)
        if args.devices > 0:
            seed_devices(db, tenant_id, args.devices)
        refresh_presence(db, tenant_id)
        db.session.commit()
        refresh_samples(db, tenant_id)
        reference, machine_id = pick_pages(db, tenant_id)
        admin = db.session.scalar(db.select(User).where(User.tenant_id == tenant_id, User.role == "admin"))
        set_password(admin, PASSWORD)
        email = admin.email
        db.session.commit()
        db.engine.dispose()

    # (name, path, content: [(selector, unless its text has this)], htmx fragments waited for)
    pages = [
        ("baseline: /health/live", "/health/live", [("body", None)], []),
        (
            "ticket list",
            "/chamados",
            [("#ticket-table tbody tr", None), (".results-head .count", "Contando")],
            ["/chamados/contagem"],
        ),
        (
            "ticket",
            f"/chamados/{reference}",
            [("#ticket-main h1", None), ("#timeline", None), ("#ticket-sidebar", None)],
            [],
        ),
        (
            "Painel",
            "/",
            [("#counters", None), ("#latest-tickets tbody tr, #latest-tickets .empty", None)],
            [],
        ),
        ("device list", "/dispositivos", [("#device-table tbody tr", None)], []),
        (
            "device page",
            f"/dispositivos/{machine_id}",
            [("#device-head", None), ("svg.chart", None), ("#inventory", None)],
            [],
        ),
    ]
    watched = {path: content for _name, path, content, _fragments in pages}
    server = f"http://127.0.0.1:{PORT}"
    gunicorn = start_gunicorn(ROOT, env, PORT)
    shown: dict[str, list[float]] = {name: [] for name, *_ in pages}
    seen: dict[str, list[float]] = {name: [] for name, *_ in pages}
    servers: dict[str, list[float]] = {name: [] for name, *_ in pages}
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="pt-BR")
            page.goto(f"{server}/login")
            page.get_by_label("E-mail").fill(email)
            page.get_by_label("Senha").fill(PASSWORD)
            page.get_by_role("button", name="Entrar").click()
            page.wait_for_url(f"{server}/")
            page.add_init_script(WATCH_JS % json.dumps(watched))
            for round_ in range(args.warmup + args.navigations):  # in turn: all see the same load
                for name, path, _content, fragments in pages:
                    figures = navigate(page, server + path, fragments)
                    if round_ >= args.warmup:
                        for into, value in zip((shown, seen, servers), figures, strict=True):
                            into[name].append(value)
            browser.close()
    finally:
        gunicorn.terminate()
        try:
            gunicorn.wait(timeout=40)  # graceful_timeout is 30 s
        except subprocess.TimeoutExpired:
            gunicorn.kill()

    baseline = statistics.median(shown[pages[0][0]])
    print(
        f"\n{args.tickets:,} tickets, {args.devices:,} devices; {args.navigations} navigations per page "
        f"(after {args.warmup} warm-up rounds), Chromium headless 1440×900, gunicorn production settings"
    )
    print(
        f"{'page':<24}{'shown p50':>11}{'shown p95':>11}{'server p50':>12}{'server p95':>12}"
        f"{'server share':>14}{'p50 − baseline':>16}{'goto→seen p95':>15}   target p95 < {TARGET_P95_MS:.0f} ms"
    )
    missed = []
    for name, *_ in pages:
        p95 = percentile(shown[name], 0.95)
        share = statistics.median(s / t for s, t in zip(servers[name], shown[name], strict=True))
        verdict = "" if name.startswith("baseline") else "met" if p95 < TARGET_P95_MS else "NOT met"
        if verdict == "NOT met":
            missed.append(name)
        print(
            f"{name:<24}{statistics.median(shown[name]):>9.1f}ms{p95:>9.1f}ms"
            f"{statistics.median(servers[name]):>10.1f}ms{percentile(servers[name], 0.95):>10.1f}ms"
            f"{share:>13.0%}{statistics.median(shown[name]) - baseline:>14.1f}ms"
            f"{percentile(seen[name], 0.95):>13.1f}ms   {verdict}"
        )
    print(
        "shown: navigation start → first frame with the content, timed in the page; server: the document's "
        "responseStart − requestStart (+ the list's count fragment); goto→seen: page.goto() until "
        "Playwright saw it"
    )
    print(f"target p95 < {TARGET_P95_MS:.0f} ms: " + (f"NOT met ({', '.join(missed)})" if missed else "met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
