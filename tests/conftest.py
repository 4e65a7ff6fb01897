"""Shared fixtures.

The suite runs on SQLite by default. With TEST_DATABASE_URL (PostgreSQL) and
TEST_REDIS_URL set it runs against those real services instead. The schema is
built once per session by the real migrations (`flask db upgrade`), and every
test starts from empty tables.
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from simple_websocket import Client
from sqlalchemy import create_engine, select, text
from werkzeug.serving import make_server

from app import create_app
from app.chat.broker import get_broker
from app.config import normalise_database_url
from app.extensions import db
from app.models import Company, Queue, Role, Tenant, User
from app.services import rate_limits
from app.services.passwords import hash_password

# pytest-xdist runs the suite in several processes ("gw0", "gw1"...): each gets a PostgreSQL
# database and a Redis database of its own, so their tests never see each other's rows.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _for_this_worker(database_url: str, redis_url: str) -> tuple[str, str]:
    if not XDIST_WORKER:
        return database_url, redis_url
    number = int(XDIST_WORKER.removeprefix("gw"))
    if database_url:
        database_url = f"{database_url}_{XDIST_WORKER}"
    if redis_url:
        base, _, index = redis_url.rpartition("/")
        redis_url = f"{base}/{int(index or 0) - number - 1}"  # below the one a serial run uses
    return database_url, redis_url


SHARED_TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
TEST_DATABASE_URL, TEST_REDIS_URL = _for_this_worker(
    SHARED_TEST_DATABASE_URL, os.environ.get("TEST_REDIS_URL", "").strip()
)
PASSWORD = "senha-de-teste-123"
CRON_SECRET = "test-cron-secret-0123456789"
INTERNAL_TOKEN = "test-internal-token-0123456789"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


# Fixtures that start other processes: the tests using them are marked `process`.
PROCESS_FIXTURES = frozenset({"two_servers", "sockets_pool", "fusion_agent"})


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """`browser` for everything under tests/browser/, `process` by the fixtures a test uses,
    so `make test-fast` (-m "not browser and not process") needs no mark remembered. The real
    fusioninventory-agent keeps its state in one folder of the machine: its tests share a
    pytest-xdist process, one after the other."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        if PROCESS_FIXTURES & fixtures:
            item.add_marker(pytest.mark.process)
        if "fusion_agent" in fixtures:
            item.add_marker(pytest.mark.xdist_group("fusioninventory-agent"))


def pytest_report_header(config):
    database = TEST_DATABASE_URL or "SQLite (temporary file)"
    redis = TEST_REDIS_URL or "none (in-process)"
    return f"chamados: database={database} redis={redis}"


def _reset_database(url: str) -> None:
    """Start the session from an empty database so the migrations build everything."""
    if url.startswith("postgresql") and url != SHARED_TEST_DATABASE_URL:
        _create_database_if_missing(url)
    if url.startswith("postgresql"):
        engine = create_engine(normalise_database_url(url))
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()


def _create_database_if_missing(url: str) -> None:
    """A worker's own database, created beside the shared one (which must exist)."""
    name = url.rsplit("/", 1)[1]
    engine = create_engine(normalise_database_url(SHARED_TEST_DATABASE_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


@pytest.fixture(scope="session")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="chamados-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def test_env(workdir) -> dict:
    """The environment the app under test reads (never the developer's own)."""
    database_url = TEST_DATABASE_URL or f"sqlite:///{workdir / 'test.sqlite3'}"
    env = {
        "APP_ENV": "testing",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "DATABASE_URL": database_url,
        "MACHINE_PROVISIONING_SECRET": "test-provisioning-secret",
        "UPLOAD_DIR": str(workdir / "uploads"),
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "LOG_LEVEL": "INFO",
        "EXPORT_DIR": str(workdir / "exports"),
        "ARCHIVE_DIR": str(workdir / "archives"),
        "CRON_SECRET": CRON_SECRET,
        "INTERNAL_HEALTH_TOKEN": INTERNAL_TOKEN,
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",  # production refuses to start without it
    }
    if TEST_REDIS_URL:
        env["REDIS_URL"] = TEST_REDIS_URL
    return env


class IsolatedClient(FlaskClient):
    """Runs each request in an empty context, as a real server would.

    Tests hold an app context open for their own queries; without this, Flask
    would reuse it for the request and `g` (the logged-in user, the DB
    session) would leak between clients and requests.

    What the test itself wrote (rows it made, services it called: they flush, never commit)
    is its own unit of work, and ends where the request begins: committed, as a request's or
    a job's would be, so the request sees it (and SQLite's write lock is free for it).
    """

    def open(self, *args, **kwargs):
        if has_app_context() and db.session.registry.has():
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(test_env, workdir):
    _reset_database(test_env["DATABASE_URL"])
    application = create_app({"ENV": test_env, "INSTANCE_PATH": workdir / "instance"})
    application.test_client_class = IsolatedClient
    with application.app_context():
        upgrade()
        if TEST_REDIS_URL:
            from app.redis_client import get_redis

            get_redis().flushdb()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_state(app):
    """Each test runs inside an app context and leaves empty tables behind."""
    with app.app_context():
        rate_limits.reset()
        yield
        db.session.rollback()
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        # The tables' numbers start again: the process's memory of the change feed must too.
        get_broker(app).recent_feed = None


@pytest.fixture
def make_app(test_env, tmp_path):
    """Build another app with changed settings (a dead database, a dead Redis...)."""

    def build(**env_overrides):
        return create_app({"ENV": {**test_env, **env_overrides}, "INSTANCE_PATH": tmp_path})

    return build


@pytest.fixture
def dead_redis_client(make_app):
    """A client of an app whose REDIS_URL points at a port nothing listens on, signed in as `user`."""

    def client_for(user):
        app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
        app.test_client_class = IsolatedClient
        client = app.test_client()
        assert login(client, user).status_code == 302
        return client

    return client_for


# --- domain objects -------------------------------------------------------


@pytest.fixture
def tenant(app) -> Tenant:
    tenant = Tenant(key="acme", name="Suporte Acme")
    db.session.add(tenant)
    db.session.commit()
    return tenant


@pytest.fixture
def other_tenant(app) -> Tenant:
    tenant = Tenant(key="outra", name="Outra Empresa de Suporte")
    db.session.add(tenant)
    db.session.commit()
    return tenant


@pytest.fixture
def queue(tenant) -> Queue:
    queue = Queue(tenant_id=tenant.id, name="Chamados")
    db.session.add(queue)
    db.session.commit()
    return queue


@pytest.fixture
def company(tenant) -> Company:
    company = Company(tenant_id=tenant.id, name="Padaria Pão Quente", apelido="paoquente")
    db.session.add(company)
    db.session.commit()
    return company


def make_user(tenant, role=Role.AGENT, email=None, company=None, active=True, name=None) -> User:
    user = User(
        tenant_id=tenant.id,
        email=email or f"{role.value}-{os.urandom(3).hex()}@example.com",
        name=name or f"Pessoa {role.label}",
        role=role,
        company_id=company.id if company else None,
        password_hash=hash_password(PASSWORD),
        is_active=active,
    )
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def admin_user(tenant) -> User:
    return make_user(tenant, Role.ADMIN, email="admin@acme.test", name="Alice Admin")


@pytest.fixture
def agent_user(tenant) -> User:
    return make_user(tenant, Role.AGENT, email="agente@acme.test", name="Artur Agente")


@pytest.fixture
def collaborator(tenant, company) -> User:
    return make_user(
        tenant, Role.COLLABORATOR, email="colab@paoquente.test", company=company, name="Carlos Colaborador"
    )


# --- HTTP clients ---------------------------------------------------------

# A form's hidden input, or the page-wide htmx header (pages without a form).
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_token_from(client, path="/login") -> str:
    response = client.get(path)
    match = CSRF_INPUT.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def login(client, user_or_email, password=PASSWORD, **extra):
    email = getattr(user_or_email, "email", user_or_email)
    token = csrf_token_from(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, **extra})


@pytest.fixture
def client(app):
    return app.test_client()


def logged_in_client(app, user):
    """A client logged in as `user` that sends the CSRF token header, as the
    pages do for every htmx request (hx-headers) and form."""
    client = app.test_client()
    assert login(client, user).status_code == 302
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token_from(
        client, "/chamados/novo" if user.is_staff else "/portal"
    )
    return client


@pytest.fixture
def admin_client(app, admin_user):
    return logged_in_client(app, admin_user)


@pytest.fixture
def agent_client(app, agent_user):
    return logged_in_client(app, agent_user)


# --- live server and browser ----------------------------------------------


class WebSocketClient(Client):
    """simple-websocket's client, minus two flaws. A race: its handshake takes only the first event of
    what it read, so a frame the server sent right behind the 101 response (our "hello")
    stayed in the parser until more bytes came, and `receive()` timed out under load."""

    def handshake(self):
        # And its Host header leaves out the port, which browsers send: the server compares
        # the page's Origin with its own scheme, host and port.
        if self.port not in (80, 443):
            self.host = f"{self.host}:{self.port}"
        super().handshake()
        self.connected = self._handle_events()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over real HTTP in a background thread."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, headless."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; run `make deps` (apt-get install chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}; install it with `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open pages in fresh browser contexts (separate cookies, like separate browsers)."""
    contexts = []

    def open_page():
        context = browser.new_context(base_url=live_server, locale="pt-BR")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def browser_login(page, user, password=PASSWORD):
    page.goto("/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url("**/" if user.is_staff else "**/portal")


def sign_in_persona(page, app, persona, hostname="caixa-navegador"):
    """Sign a demo persona in through the login form; "device" through a computer's handshake."""
    from app.services.demo import DEMO_PASSWORD

    if persona == "device":
        page.goto(f"/machines/handshake?token={demo_device_token(app, hostname=hostname)}")
        page.wait_for_url("**/portal")
        return
    page.goto("/login")
    page.get_by_label("E-mail").fill(DEMO_PERSONAS[persona])
    page.get_by_label("Senha").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_load_state("load")
    assert "/login" not in page.url, f"{persona} could not sign in"


@pytest.fixture
def make_ticket(tenant, collaborator):
    """Open a ticket quickly; keyword arguments go to create_ticket or are set afterwards."""
    from app.services.tickets import create_ticket

    def make(subject="Chamado de teste", requester=None, **fields):
        creation = {
            k: fields.pop(k)
            for k in ("description_html", "queue_id", "company_id", "priority")
            if k in fields
        }
        ticket = create_ticket(
            tenant_id=tenant.id, requester=requester or collaborator, subject=subject, **creation
        )
        for key, value in fields.items():
            setattr(ticket, key, value)
        db.session.commit()
        return ticket

    return make


# --- devices ------------------------------------------------------------------------

PROVISIONING_SECRET = "test-provisioning-secret"


def sample_inventory(software=("Firefox", "LibreOffice"), free=50_000_000_000):
    return {
        "hardware": {
            "manufacturer": "Dell Inc.",
            "model": "OptiPlex 7090",
            "cpu": "Intel Core i5-10500",
            "cores": 6,
            "memoryBytes": 17_179_869_184,
            "serial": "ABC1234",
        },
        "os": {"name": "Windows 11 Pro", "version": "11", "build": "26100", "arch": "x86_64"},
        "disks": [{"mount": "C:", "fs": "NTFS", "totalBytes": 256_000_000_000, "freeBytes": free}],
        "network": [{"name": "Ethernet", "mac": "aa:bb:cc:dd:ee:01", "ipv4": ["192.168.0.10"]}],
        "software": [{"name": name, "version": "1.0", "publisher": "x"} for name in software],
    }


@pytest.fixture
def register_device(app, company):
    """Register a device through the real API; returns (response JSON, Authorization headers)."""

    def register(
        email="joana@paoquente.test",
        serials=("SN-001",),
        macs=("AA-BB-CC-DD-EE-01",),
        hostname="recepcao-01",
        code=None,
    ):
        client = app.test_client()
        response = client.post(
            "/api/machines/register",
            json={
                "companyCode": code or company.provisioning_code,
                "email": email,
                "hostname": hostname,
                "os": {"name": "Windows 11 Pro", "version": "11", "build": "26100", "arch": "x86_64"},
                "macAddresses": list(macs),
                "serialNumbers": list(serials),
            },
            headers={"X-Provisioning-Secret": PROVISIONING_SECRET},
        )
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        return body, {"Authorization": f"Bearer {body['machineToken']}"}

    return register


def assert_conforms(response, path, method="post"):
    """Validate a real agent API response against the OpenAPI document's schema for its status."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from app.devices.openapi import OPENAPI

    registry = Registry().with_resource("urn:doc", Resource.from_contents(OPENAPI, DRAFT202012))
    spec = OPENAPI["paths"][path][method]["responses"][str(response.status_code)]
    ref = spec["content"]["application/json"]["schema"]["$ref"].replace("#", "urn:doc#")
    errors = list(Draft202012Validator({"$ref": ref}, registry=registry).iter_errors(response.get_json()))
    assert errors == [], errors[0].message


# --- live chat ------------------------------------------------------------------------


class ChatSetup:
    """A registered, online device and a ticket of its user linked to it."""

    def __init__(self, app, ticket, machine_id, auth, token):
        self.app, self.ticket, self.machine_id, self.auth, self.token = app, ticket, machine_id, auth, token

    @property
    def machine(self):
        from app.models import Machine

        return db.session.get(Machine, self.machine_id)

    def heartbeat(self):
        response = self.app.test_client().post("/api/machines/heartbeat", json={}, headers=self.auth)
        assert response.status_code == 200
        return response.get_json()

    def start(self, actor):
        from app.chat.sessions import start_session

        session, _ = start_session(actor, self.ticket)
        db.session.commit()  # the request's boundary would: the device and other sessions see it
        return session


@pytest.fixture
def chat_device(app, register_device, make_ticket):
    """Register a device, make it online and open a ticket linked to it."""

    def build(
        hostname="recepcao-01", serials=("SN-001",), macs=("AA-BB-CC-DD-EE-01",), email="joana@paoquente.test"
    ):
        from app.models import User

        body, auth = register_device(email=email, hostname=hostname, serials=serials, macs=macs)
        requester = db.session.get(User, body["assignedUser"]["id"])
        ticket = make_ticket("Impressora não imprime", requester=requester, machine_id=body["machineId"])
        setup = ChatSetup(app, ticket, body["machineId"], auth, body["machineToken"])
        setup.heartbeat()
        return setup

    return build


# --- background jobs ------------------------------------------------------------------


@pytest.fixture
def make_machine(tenant, company):
    from app.models import Machine

    def make(hostname="pc-01", **fields):
        machine = Machine(tenant_id=tenant.id, company_id=company.id, hostname=hostname, **fields)
        db.session.add(machine)
        db.session.commit()
        return machine

    return make


@pytest.fixture
def rq_queue(app):
    """The jobs queue on the real Redis, emptied before and after (skips without TEST_REDIS_URL)."""
    if not TEST_REDIS_URL:
        pytest.skip("RQ on a real Redis needs TEST_REDIS_URL")
    from app.jobs.runner import rq_queue as queue_for

    queue = queue_for()
    queue.connection.flushdb()
    yield queue
    queue.connection.flushdb()


# --- the demo install -----------------------------------------------------------------

DEMO_PERSONAS = {
    "admin": "admin@demo.chamados.local",
    "agent": "ana.souza@demo.chamados.local",
    "manager": "carla.mendes@demo.chamados.local",
    "collaborator": "joao.silva@paoquente.com.br",
    "company_manager": "maria.oliveira@paoquente.com.br",
}


@pytest.fixture
def demo(app):
    """What `make run` shows a newcomer: `flask seed-demo`, as the command runs it."""
    from app.services.demo import DEMO_PASSWORD, seed_demo

    config = app.config
    seed_demo(config["SEED_USER_EMAIL"], config["SEED_USER_PASSWORD"], config["SEED_USER_NAME"])
    db.session.commit()  # the command is one unit of work (@committed): a browser sees it all
    assert config["SEED_USER_PASSWORD"] == DEMO_PASSWORD  # every demo login below uses it
    return DEMO_PERSONAS


def demo_device_token(app, email="joao.silva@paoquente.com.br", hostname="caixa-demo") -> str:
    """Register a computer of the demo's first company through the real API; its token."""
    from app.models import Company

    company = db.session.scalar(select(Company).where(Company.apelido == "paoquente"))
    response = app.test_client().post(
        "/api/machines/register",
        json={
            "companyCode": company.provisioning_code,
            "email": email,
            "hostname": hostname,
            "os": {"name": "Ubuntu", "version": "24.04", "build": "", "arch": "x86_64"},
            "macAddresses": [f"AA-BB-CC-DD-{os.urandom(1).hex()}-{os.urandom(1).hex()}"],
            "serialNumbers": [f"SN-{os.urandom(4).hex()}"],
        },
        headers={"X-Provisioning-Secret": PROVISIONING_SECRET},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["machineToken"]


def demo_client(app, persona: str):
    """A client signed in as a persona of the demo (`device` opens a device session)."""
    from app.services.demo import DEMO_PASSWORD

    client = app.test_client()
    if persona == "device":
        response = client.get(f"/machines/handshake?token={demo_device_token(app)}")
        assert response.status_code == 302, response.get_data(as_text=True)
        return client
    assert login(client, DEMO_PERSONAS[persona], DEMO_PASSWORD).status_code == 302
    return client
