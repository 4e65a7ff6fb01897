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


def test_login_still_works_when_redis_is_down(make_app, agent_user):
    from tests.conftest import login

    client = make_app(REDIS_URL="redis://127.0.0.1:9/0").test_client()
    assert login(client, agent_user).status_code == 302
