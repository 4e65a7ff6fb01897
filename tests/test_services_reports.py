"""Relatórios: CSV exports of the ticket list, built by the runner job."""

import csv
from datetime import timedelta
from pathlib import Path

import pytest

from app.extensions import db
from app.models import ExportStatus, TicketStatus
from app.models.types import utcnow
from app.services import reports, tickets
from app.services.errors import Conflict, PermissionDenied
from app.services.ticket_filters import TicketFilters
from tests.conftest import make_user


def read_csv(export) -> list[list[str]]:
    with open(reports.export_path(export), encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def test_the_runner_writes_the_filtered_list_as_csv(make_ticket, agent_user, admin_user):
    make_ticket('=HYPERLINK("http://mal")')
    started = make_ticket("Sem internet na recepção")
    tickets.change_status(started, "iniciar", agent_user)
    make_ticket("Outro pendente")
    export = reports.request_export(admin_user, TicketFilters(statuses=[TicketStatus.PENDING]))
    assert export.status == ExportStatus.PENDING

    outcome = reports.run_pending_exports()
    assert (outcome.changed, outcome.has_more) == (1, False)
    db.session.refresh(export)
    assert export.status == ExportStatus.DONE and export.row_count == 2
    rows = read_csv(export)
    assert rows[0][:4] == ["Número", "Assunto", "Status", "Prioridade"]
    subjects = {row[1] for row in rows[1:]}
    assert subjects == {"Outro pendente", '\'=HYPERLINK("http://mal")'}  # no formula runs in Excel
    assert {row[2] for row in rows[1:]} == {"Pendente"}
    assert export.file_size == Path(reports.export_path(export)).stat().st_size
    # Nothing left: a second run has nothing to do.
    assert reports.run_pending_exports().changed == 0


def test_collaborators_cannot_export_and_a_person_has_at_most_three_waiting(collaborator, admin_user):
    with pytest.raises(PermissionDenied):
        reports.request_export(collaborator, TicketFilters())
    for _ in range(3):
        reports.request_export(admin_user, TicketFilters())
    with pytest.raises(Conflict) as refused:
        reports.request_export(admin_user, TicketFilters())
    assert "3 exportações na fila" in refused.value.message


def test_exports_disabled_by_the_flag_are_refused(admin_user, app):
    app.config["REPORT_EXPORTS_ENABLED"] = False
    try:
        with pytest.raises(Conflict):
            reports.request_export(admin_user, TicketFilters())
    finally:
        app.config["REPORT_EXPORTS_ENABLED"] = True


def test_a_failing_export_is_retried_then_marked_failed(admin_user, monkeypatch):
    export = reports.request_export(admin_user, TicketFilters())

    def broken(_export, _path):
        raise OSError("disco cheio")

    monkeypatch.setattr(reports, "write_csv", broken)
    for attempt in range(1, reports.MAX_ATTEMPTS + 1):
        reports.run_pending_exports()
        db.session.refresh(export)
        assert export.attempts == attempt and "disco cheio" in export.error
    assert export.status == ExportStatus.FAILED
    assert not list(Path(reports.export_path(export)).parent.glob(".*.part"))


def test_an_export_is_built_once_even_if_two_runners_race(admin_user):
    export = reports.request_export(admin_user, TicketFilters())
    assert reports._claim(export.id, utcnow()) is not None
    assert reports._claim(export.id, utcnow()) is None  # the second runner skips it
    # ...unless the first one died: a RUNNING export an hour old is taken over.
    assert reports._claim(export.id, utcnow() + timedelta(hours=2)) is not None


def test_agents_see_their_own_exports_admins_all(admin_user, agent_user, tenant):
    mine = reports.request_export(agent_user, TicketFilters())
    theirs = reports.request_export(admin_user, TicketFilters())
    other_agent = make_user(tenant, email="outro@suporte.test")
    assert [e.id for e in reports.list_exports(agent_user)[0]] == [mine.id]
    assert {e.id for e in reports.list_exports(admin_user)[0]} == {mine.id, theirs.id}
    assert reports.list_exports(other_agent)[0] == []
