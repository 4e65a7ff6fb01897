"""POST /api/cron/<job> for system cron, and the local archive endpoint."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import JobRun
from app.models.types import utcnow
from app.services.tickets import change_status
from tests.conftest import CRON_SECRET, INTERNAL_TOKEN


def test_a_cron_call_runs_the_job_and_answers_its_summary(client):
    response = client.post("/api/cron/chat-cleanup", headers={"x-cron-secret": CRON_SECRET})
    assert response.status_code == 200
    assert response.get_json() == {
        "job": "chat_cleanup",
        "changed": 0,
        "hasMore": False,
        "summary": "verificadas 0, encerradas 0 (nenhuma)",
    }
    assert JobRun.query.one().trigger == "http"


def test_a_wrong_or_missing_secret_is_401_and_runs_nothing(client, make_app):
    for headers in ({"x-cron-secret": "errado"}, {}, {"x-cron-secret": CRON_SECRET[:-1]}):
        response = client.post("/api/cron/chat_cleanup", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_cron_secret"
    # With no CRON_SECRET configured, nothing matches, not even an empty header.
    unconfigured = make_app(CRON_SECRET="").test_client()
    assert unconfigured.post("/api/cron/chat_cleanup", headers={"x-cron-secret": ""}).status_code == 401
    assert JobRun.query.count() == 0


def test_unknown_and_disabled_jobs_are_explained(client):
    unknown = client.post("/api/cron/limpar-tudo", headers={"x-cron-secret": CRON_SECRET})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "unknown_job"
    disabled = client.post("/api/cron/auto_pause_internal_lunch", headers={"x-cron-secret": CRON_SECRET})
    assert (
        disabled.status_code == 409 and "AUTO_PAUSE_LUNCH_ENABLED" in disabled.get_json()["error"]["message"]
    )


def test_retention_can_be_asked_for_a_dry_run(client):
    response = client.post(
        "/api/cron/retention_sweep", json={"dryRun": True}, headers={"x-cron-secret": CRON_SECRET}
    )
    assert response.status_code == 200 and "a remover" in response.get_json()["summary"]


def test_archive_local_needs_the_internal_token_and_archives_once(client, make_ticket, agent_user, app):
    ticket = make_ticket("Velho")
    change_status(ticket, "encerrar", agent_user, message_html="<p>ok</p>")
    ticket.resolved_at = utcnow() - timedelta(days=40)
    db.session.commit()

    assert client.post("/api/admin/tickets/archive-local", json={"olderThanDays": 30}).status_code == 401
    bad = client.post(
        "/api/admin/tickets/archive-local",
        json={"olderThanDays": 0},
        headers={"x-internal-token": INTERNAL_TOKEN},
    )
    assert bad.status_code == 422
    first = client.post(
        "/api/admin/tickets/archive-local",
        json={"olderThanDays": 30},
        headers={"x-internal-token": INTERNAL_TOKEN},
    )
    assert first.status_code == 200 and first.get_json()["archived"] == 1
    assert first.get_json()["file"].startswith(app.config["ARCHIVE_DIR"])
    again = client.post(
        "/api/admin/tickets/archive-local", json={"olderThanDays": 30}, headers={"x-cron-secret": CRON_SECRET}
    )
    assert again.get_json()["archived"] == 0


def test_the_seeds_crontab_line_works_as_copied_with_get(client):
    """Seed 000 §12: `curl -s "…/api/cron/chat-cleanup" -H "x-cron-secret: $CRON_SECRET"` is a GET."""
    response = client.get("/api/cron/chat-cleanup", headers={"x-cron-secret": CRON_SECRET})
    assert response.status_code == 200 and response.get_json()["job"] == "chat_cleanup"
    assert client.get("/api/cron/usb-cleanup", headers={"x-cron-secret": CRON_SECRET}).status_code == 200
    refused = client.get("/api/cron/chat-cleanup", headers={"x-cron-secret": "errado"})
    assert refused.status_code == 401
    assert JobRun.query.count() == 2


def test_reports_cron_secret_opens_the_archive_endpoint(make_app):
    """Seed 000 §14: the archive is protected by INTERNAL_HEALTH_TOKEN or REPORTS_CRON_SECRET."""
    client = make_app(INTERNAL_HEALTH_TOKEN="", REPORTS_CRON_SECRET="segredo-dos-relatorios").test_client()
    headers = {"x-internal-token": "segredo-dos-relatorios"}
    response = client.post("/api/admin/tickets/archive-local", json={"olderThanDays": 30}, headers=headers)
    assert response.status_code == 200 and response.get_json()["archived"] == 0
    wrong = client.post("/api/admin/tickets/archive-local", headers={"x-internal-token": "outro"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "body", [[1, 2], "texto", 7, {"olderThanDays": 10**30}, {"olderThanDays": "30"}, {"olderThanDays": True}]
)
def test_odd_bodies_get_a_clear_answer_not_a_500(client, body):
    headers = {"x-internal-token": INTERNAL_TOKEN}
    archive = client.post("/api/admin/tickets/archive-local", json=body, headers=headers)
    assert archive.status_code in (200, 422), archive.get_data(as_text=True)
    if archive.status_code == 422:
        assert "olderThanDays" in archive.get_json()["error"]["message"]
    cron = client.post("/api/cron/retention_sweep", json=body, headers={"x-cron-secret": CRON_SECRET})
    assert cron.status_code == 200


def test_an_unknown_job_name_is_not_echoed(client):
    response = client.get("/api/cron/%3Cscript%3E%00", headers={"x-cron-secret": CRON_SECRET})
    assert response.status_code == 404 and "<script>" not in response.get_data(as_text=True)
