"""One owner for commits (app/services/transaction.py): services flush; the request, the job
run, the CLI command and the websocket frame commit their unit of work, or roll it back."""

import ast
from pathlib import Path

import pytest
from flask import Blueprint
from sqlalchemy import select, update

from app.extensions import csrf, db
from app.jobs import runner
from app.jobs.registry import JobSpec
from app.models import AuditLog, JobRun, JobRunStatus, Queue, Tenant
from app.services import transaction
from app.services.errors import Conflict
from app.services.job_runs import JobOutcome
from tests.conftest import IsolatedClient, login

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app/services", "app/devices", "app/chat")
# (file, function) -> why it commits by itself instead of leaving it to its unit's boundary.
ALLOWED_COMMITS = {
    ("app/services/transaction.py", "commit"): "the boundaries' own commit",
    ("app/services/transaction.py", "_commit"): "the request's boundary",
    ("app/chat/socket.py", "_client_frame"): "a websocket frame's boundary (the connection lives on)",
    ("app/services/auth.py", "_refused"): "a refused login is audited, though its 401 rolls back",
    ("app/services/notifications.py", "send_due"): "a sent e-mail is recorded at once: never sent twice",
    ("app/services/reports.py", "_claim"): "an export is claimed before its file is built",
    ("app/services/retention.py", "_delete_batch"): "one short transaction per batch of a sweep",
    ("app/services/retention.py", "sweep"): "the partitions ahead are created before the drops start",
    ("app/services/partitions.py", "drop_expired"): "one short transaction (and lock) per partition dropped",
}


class _Commits(ast.NodeVisitor):
    """(function, line) of every `<anything>.commit()` call, by its innermost function."""

    def __init__(self):
        self.functions, self.found = [], []

    def visit_FunctionDef(self, node):
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node):
        if isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
            self.found.append((self.functions[-1] if self.functions else "<module>", node.lineno))
        self.generic_visit(node)


def commit_calls() -> dict[tuple[str, str], list[int]]:
    calls: dict[tuple[str, str], list[int]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            visitor = _Commits()
            visitor.visit(ast.parse(path.read_text(), str(path)))
            for function, line in visitor.found:
                calls.setdefault((str(path.relative_to(ROOT)), function), []).append(line)
    return calls


def test_services_devices_and_chat_commit_only_where_the_allowlist_says_why():
    calls = commit_calls()
    unexpected = {place: lines for place, lines in calls.items() if place not in ALLOWED_COMMITS}
    assert unexpected == {}, "flush instead: the request, job, CLI command or frame commits"
    assert set(ALLOWED_COMMITS) == set(calls), "an allowed commit is gone: drop it from the list"


def test_the_scan_finds_a_commit():
    visitor = _Commits()
    visitor.visit(ast.parse("def save():\n    db.session.commit()\n"))
    assert visitor.found == [("save", 2)]


# --- a web request ------------------------------------------------------------------------


JSON = {"Accept": "application/json"}  # errors answered as JSON (views/errors.py)


def _tenant_keys() -> list[str]:
    """What is committed, read on a connection of its own."""
    with db.engine.connect() as connection:
        return list(connection.scalars(select(Tenant.key).order_by(Tenant.key)))


@pytest.fixture
def probe(make_app):
    """A client of an app with views that write a tenant, then answer in different ways."""
    app = make_app()
    app.test_client_class = IsolatedClient
    bp = Blueprint("probe", __name__)
    announced = []

    def write(key, name="Sonda"):
        db.session.add(Tenant(key=key, name=name))
        db.session.flush()

    @bp.post("/sonda/guardar")
    def stored():
        write("guardado")
        transaction.after_commit(lambda: announced.append(_tenant_keys()))
        return "", 204

    @bp.post("/sonda/recusar")
    def refused():
        write("recusado")
        transaction.after_commit(lambda: announced.append("never"))
        raise Conflict("Recusado.")

    @bp.post("/sonda/formulario")
    def form_error():
        write("formulario")
        return "Corrija o formulário.", 422

    @bp.post("/sonda/longo")
    def too_long():
        db.session.add(Tenant(key="longo", name="x" * 500))  # refused at the commit's flush
        return "", 204

    @bp.get("/sonda/ler")
    def read_and_write():
        write("lido")
        return "ok"

    @bp.get("/sonda/atualizar")
    def read_and_update():
        db.session.execute(update(Tenant).where(Tenant.key == "nenhum").values(name="Outro"))
        return "ok"

    csrf.exempt(bp)
    app.register_blueprint(bp)
    client = app.test_client()
    client.announced = announced
    return client


def test_a_successful_post_is_committed_then_announced(probe):
    assert probe.post("/sonda/guardar").status_code == 204
    assert _tenant_keys() == ["guardado"]
    assert probe.announced == [["guardado"]]  # the callback ran once the row was committed


def test_a_post_whose_view_raises_a_domain_error_writes_nothing(probe):
    response = probe.post("/sonda/recusar", headers=JSON)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert _tenant_keys() == [] and probe.announced == []


def test_a_form_re_rendered_with_a_4xx_writes_nothing(probe):
    assert probe.post("/sonda/formulario").status_code == 422
    assert _tenant_keys() == []


def test_a_refusal_at_the_commits_flush_is_answered_and_writes_nothing(probe):
    response = probe.post("/sonda/longo", headers=JSON)
    assert response.status_code == 422 and "máximo 120" in response.get_json()["error"]["message"]
    assert _tenant_keys() == []


@pytest.mark.parametrize("path", ["/sonda/ler", "/sonda/atualizar"])  # a flush, an ORM UPDATE
def test_a_get_that_writes_is_an_error_under_testing(probe, path):
    with pytest.raises(AssertionError, match="a GET never writes"):
        probe.get(path)
    assert _tenant_keys() == []


def test_a_refused_login_is_audited_though_its_401_rolls_back(client, admin_user):
    assert login(client, admin_user, "senha-errada").status_code == 401
    with db.engine.connect() as connection:
        actions = list(connection.scalars(select(AuditLog.action)))
    assert actions == ["login.falha"]


# --- a job run ------------------------------------------------------------------------------


def _use_job(monkeypatch, run):
    spec = JobSpec("sonda", "Sonda", "", "* * * * *", 60, run, retry_intervals=())
    monkeypatch.setattr(runner, "job_spec", lambda name: spec if name == "sonda" else None)


def _runs() -> list[tuple[str, str]]:
    with db.engine.connect() as connection:
        return [(row.status, row.error or "") for row in connection.execute(select(JobRun))]


def test_a_job_runs_work_and_its_record_are_committed_together(app, monkeypatch):
    def run():
        db.session.add(Tenant(key="da-tarefa", name="Da tarefa"))
        return JobOutcome(changed=1, summary="um tenant")

    _use_job(monkeypatch, run)
    runner.run_job("sonda", "manual")
    assert _tenant_keys() == ["da-tarefa"]
    assert [status for status, _ in _runs()] == [JobRunStatus.SUCCEEDED]


def test_a_failing_job_writes_nothing_of_its_work_but_its_failure_is_recorded(app, monkeypatch):
    def run():
        db.session.add(Tenant(key="meia-tarefa", name="Meia tarefa"))
        db.session.flush()
        raise RuntimeError("disco cheio")

    _use_job(monkeypatch, run)
    with pytest.raises(RuntimeError):
        runner.run_job("sonda", "manual")
    assert _tenant_keys() == []
    [(status, error)] = _runs()
    assert status == JobRunStatus.FAILED and "RuntimeError: disco cheio" in error


# --- a CLI command --------------------------------------------------------------------------


def test_a_cli_commands_work_is_committed(app):
    result = app.test_cli_runner().invoke(args=["tenants", "create", "--key", "nova-org", "--name", "Nova"])
    assert result.exit_code == 0, result.output
    assert _tenant_keys() == ["nova-org"]
    with db.engine.connect() as connection:
        assert list(connection.scalars(select(Queue.name))) == ["Chamados"]


def test_a_unit_of_work_that_fails_is_rolled_back(app):
    def half_done():
        db.session.add(Tenant(key="pela-metade", name="Pela metade"))
        db.session.flush()
        raise RuntimeError("falhou")

    with pytest.raises(RuntimeError):
        transaction.committed(half_done)()
    assert _tenant_keys() == []


def test_every_cli_command_is_a_unit_of_work(app):
    def leaves(command):
        children = getattr(command, "commands", None)
        return [leaf for child in children.values() for leaf in leaves(child)] if children else [command]

    ours = [command for name, command in app.cli.commands.items() if name != "db"]  # db: Flask-Migrate's
    unit_of_work = transaction.committed(print).__code__  # the wrapper @committed puts around a command
    assert len(ours) >= 8
    assert [c.name for g in ours for c in leaves(g) if c.callback.__code__ is not unit_of_work] == []
