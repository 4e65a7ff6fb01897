from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import TEST_REDIS_URL


def test_health_reports_database_version_and_memory(client):
    response = client.get("/health")
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["version"] == "0.1.0"
    assert body["memory"]["rss_bytes"] > 10 * 1024 * 1024
    expected_redis = "ok" if TEST_REDIS_URL else "not_configured"
    assert body["redis"]["status"] == expected_redis


def test_health_is_503_when_the_database_is_unreachable_but_liveness_answers(make_app):
    app = make_app(DATABASE_URL="postgresql://postgres@127.0.0.1:9/nowhere")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["database"]["status"] == "error"
    # A restart cannot fix the database: the liveness probe keeps the process alive.
    assert app.test_client().get("/health/live").get_json() == {"status": "ok"}


def test_health_stays_up_but_says_so_when_redis_is_down(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:9/0")
    response = app.test_client().get("/health")
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "degraded" and body["redis"]["status"] == "error"


def test_health_page_for_staff_is_in_portuguese(agent_client):
    html = agent_client.get("/admin/saude").get_data(as_text=True)
    assert "Saúde do sistema" in html and "Banco de dados" in html and "Operacional" in html


def test_health_page_shows_heartbeat_times_in_local_time(agent_client, monkeypatch):
    from app.views import health

    beat = "2026-05-01T12:30:45+00:00"
    monkeypatch.setattr(
        health, "check_queue", lambda: {"status": "ok", "mode": "in_process", "scheduler_last_beat": beat}
    )
    html = agent_client.get("/admin/saude").get_data(as_text=True)
    assert "01/05/2026 09:30:45" in html and beat not in html  # America/Sao_Paulo, not ISO


def test_login_still_works_when_redis_is_down(make_app, agent_user):
    from tests.conftest import login

    client = make_app(REDIS_URL="redis://127.0.0.1:9/0").test_client()
    assert login(client, agent_user).status_code == 302


# --- Saúde dashboard and Tarefas ------------------------------------------------------------


def test_health_reports_the_jobs_queue(client):
    queue = client.get("/health").get_json()["queue"]
    if TEST_REDIS_URL:
        assert queue["mode"] == "redis" and queue["status"] in ("ok", "no_workers") and "queued" in queue
    else:
        assert queue == {"status": "not_running", "mode": "in_process"}


def test_the_dashboard_counts_tickets_registrations_heartbeats_and_retention(
    agent_client, make_ticket, make_machine, agent_user
):
    from datetime import timedelta

    from app.extensions import db
    from app.models import MachinePresence, MetricSample
    from app.models.types import utcnow
    from app.services.tickets import change_status

    change_status(make_ticket("Um"), "iniciar", agent_user)
    make_ticket("Dois")
    online, offline, _never = make_machine("pc-on"), make_machine("pc-off"), make_machine("pc-novo")
    now = utcnow()
    db.session.add_all(
        [
            MachinePresence(machine_id=online.id, last_seen_at=now),
            MachinePresence(machine_id=offline.id, last_seen_at=now - timedelta(days=2)),
            MetricSample(machine_id=offline.id, taken_at=now - timedelta(days=91)),
        ]
    )
    db.session.commit()
    html = agent_client.get("/admin/saude").get_data(as_text=True)
    status_block = html.split('id="tickets-by-status"')[1].split("</dl>")[0]
    assert "<dt>Pendente</dt><dd>1</dd>" in status_block and "<dt>Em andamento</dt><dd>1</dd>" in status_block
    heartbeat_block = html.split('id="heartbeat-state"')[1].split("</dl>")[0]
    assert "<dt>Online</dt><dd>1</dd><dt>Offline</dt><dd>1</dd><dt>Nunca enviaram</dt><dd>1</dd>" in (
        heartbeat_block.replace("\n", "").replace("    ", "")
    )
    retention_block = html.split('id="retention"')[1].split("</table>")[0]
    assert "<td>Amostras de métricas</td><td>90 dias</td><td>1</td>" in retention_block
    assert "Tamanho do banco" in html


def test_the_health_page_warns_instead_of_failing_when_redis_is_down(make_app, tenant, agent_user):
    from tests.conftest import login

    client = make_app(REDIS_URL="redis://127.0.0.1:9/0").test_client()
    login(client, agent_user)
    response = client.get("/admin/saude")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Redis não responde" in html and "Indisponível" in html


def test_the_health_page_warns_when_no_worker_runs(make_app, agent_user):
    import pytest

    from tests.conftest import login

    if not TEST_REDIS_URL:
        pytest.skip("without Redis there are no workers to miss")

    client = make_app().test_client()
    login(client, agent_user)
    assert "Nenhum worker está rodando" in client.get("/admin/saude").get_data(as_text=True)


def test_tarefas_lists_runs_with_status_duration_and_error(agent_client):
    from app.models.types import utcnow
    from app.services.job_runs import JobOutcome, record_run

    record_run("chat_cleanup", "schedule", utcnow(), outcome=JobOutcome(changed=2, summary="encerradas 2"))
    record_run("retention_sweep", "schedule", utcnow(), error="Traceback\nOSError: disco cheio", attempt=3)
    html = agent_client.get("/admin/saude/tarefas").get_data(as_text=True)
    assert "Encerrar chats inativos" in html and "encerradas 2" in html
    assert "Falhou" in html and "OSError: disco cheio" in html and "(tentativa 3)" in html
    assert "Executar agora" not in html  # agents see, admins run

    fragment = agent_client.get("/admin/saude/tarefas?tarefa=retention_sweep", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.startswith('<div id="job-runs">') and "disco cheio" in body and "encerradas 2" not in body
    assert "1 execução(ões) de tarefa falharam" in agent_client.get("/admin/saude").get_data(as_text=True)


def test_an_admin_runs_a_job_now_from_tarefas(admin_client, agent_client):
    from tests.conftest import csrf_token_from

    token = csrf_token_from(admin_client, "/admin/saude/tarefas")
    response = admin_client.post("/admin/saude/tarefas/chat_cleanup/executar", data={"csrf_token": token})
    assert response.status_code == 302 and "tarefa=chat_cleanup" in response.headers["Location"]
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "foi colocada na fila" in page
    if not TEST_REDIS_URL:  # in-process (inline in tests): the run is already listed
        assert "verificadas 0, encerradas 0" in page
    token = csrf_token_from(agent_client, "/admin/saude/tarefas")
    assert (
        agent_client.post(
            "/admin/saude/tarefas/chat_cleanup/executar", data={"csrf_token": token}
        ).status_code
        == 403
    )


def test_an_admin_archives_resolved_tickets_from_saude(admin_client, agent_client, make_ticket, agent_user):
    from datetime import timedelta

    from app.extensions import db
    from app.models.types import utcnow
    from app.services.tickets import change_status
    from tests.conftest import csrf_token_from

    ticket = make_ticket("Antigo")
    change_status(ticket, "encerrar", agent_user, message_html="<p>ok</p>")
    ticket.resolved_at = utcnow() - timedelta(days=400)
    db.session.commit()
    assert "Arquivar agora" not in agent_client.get("/admin/saude").get_data(as_text=True)
    token = csrf_token_from(admin_client, "/admin/saude")
    refused = admin_client.post(
        "/admin/saude/arquivar", data={"csrf_token": token, "dias": "0"}, follow_redirects=True
    )
    assert "Informe em dias" in refused.get_data(as_text=True)
    done = admin_client.post(
        "/admin/saude/arquivar", data={"csrf_token": token, "dias": "365"}, follow_redirects=True
    )
    assert "Arquivo local: 1 chamados" in done.get_data(as_text=True)
    again = admin_client.post(
        "/admin/saude/arquivar", data={"csrf_token": token, "dias": "365"}, follow_redirects=True
    )
    assert "nenhum chamado novo para arquivar" in again.get_data(as_text=True)


def test_executar_agora_with_redis_down_runs_the_job_here_and_says_so(dead_redis_client, admin_user):
    """With REDIS_URL set but Redis not answering, the click is not a 500 and not lost."""
    from app.models import JobRun
    from tests.conftest import csrf_token_from

    client = dead_redis_client(admin_user)
    token = csrf_token_from(client, "/admin/saude/tarefas")
    response = client.post(
        "/admin/saude/tarefas/chat_cleanup/executar", data={"csrf_token": token}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "A fila de tarefas (Redis) não respondeu" in html and "executada neste servidor" in html
    assert [run.job for run in JobRun.query.all()] == ["chat_cleanup"]
    assert "verificadas 0, encerradas 0" in html  # and the page lists the run it made


def test_saude_shows_the_telemetry_partitions_and_warns_when_none_are_ready_ahead(agent_client, app):
    """On PostgreSQL: how many partitions each telemetry table has and until when they are ready;
    when the daily job has not created the coming days, a warning says so."""
    from sqlalchemy import text

    from app.extensions import db
    from app.models.types import utcnow
    from app.services import partitions

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the telemetry tables are partitioned only on PostgreSQL")
    spec = partitions.TABLES["metric_samples"]
    ready = spec.start_of(utcnow()) + timedelta(days=partitions.AHEAD_DAYS + 1)
    ready = ready.astimezone(ZoneInfo(app.config["DEFAULT_TIMEZONE"]))
    html = agent_client.get("/admin/saude").get_data(as_text=True)
    retention_block = html.split('id="retention"')[1].split("</table>")[0]
    assert f"diárias, prontas até {ready:%d/%m/%Y %H:%M}" in retention_block
    assert "faltam partições" not in html

    ahead = [name for start, name in partitions.existing_partitions(spec).items() if start > utcnow()]
    for name in ahead:
        db.session.execute(text(f"ALTER TABLE metric_samples DETACH PARTITION {name}"))
    db.session.commit()
    try:
        html = agent_client.get("/admin/saude").get_data(as_text=True)
        assert "Amostras de métricas: faltam partições para os próximos dias" in html
    finally:
        for name in ahead:
            start = datetime.strptime(name.rsplit("_p", 1)[1], "%Y%m%d").replace(tzinfo=UTC)
            db.session.execute(
                text(
                    f"ALTER TABLE metric_samples ATTACH PARTITION {name} FOR VALUES FROM "
                    f"('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
                )
            )
        db.session.commit()
