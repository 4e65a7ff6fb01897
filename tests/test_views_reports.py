"""Relatórios: the "Exportar CSV" button of the ticket list, the list of exports, the download."""

from app.extensions import db
from app.models import ReportExport
from tests.conftest import TEST_REDIS_URL, csrf_token_from, logged_in_client, make_user


def ask_export(client, query):
    token = csrf_token_from(client, "/chamados")
    return client.post("/relatorios/exportar", data={"csrf_token": token, "filtros": query})


def build_waiting_exports(app):
    if TEST_REDIS_URL:  # queued on RQ: run them here
        from app.jobs.runner import run_job

        run_job("report_export_runner", "manual")


def test_export_the_filtered_list_and_download_it(agent_client, make_ticket, app):
    make_ticket("Impressora", priority="HIGH")
    make_ticket("Teclado", priority="LOW")
    assert "Exportar CSV" in agent_client.get("/chamados").get_data(as_text=True)

    response = ask_export(agent_client, "prioridade=HIGH")
    assert response.status_code == 302 and response.headers["Location"].endswith("/relatorios")
    build_waiting_exports(app)
    page = agent_client.get("/relatorios").get_data(as_text=True)
    assert "Pronto" in page and "prioridade=HIGH" in page and "Baixar CSV" in page

    export = db.session.query(ReportExport).one()
    download = agent_client.get(f"/relatorios/{export.id}/arquivo")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    text = download.get_data().decode("utf-8-sig")
    assert "Impressora" in text and "Teclado" not in text
    assert "attachment" in download.headers["Content-Disposition"]


def test_a_bad_filter_is_explained_and_nothing_is_queued(agent_client):
    response = ask_export(agent_client, "fila=99999")
    assert response.status_code == 302 and "fila=99999" in response.headers["Location"]
    assert "Fila não encontrada" in agent_client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.query(ReportExport).count() == 0


def test_another_agents_or_tenants_export_is_404(app, agent_client, tenant, other_tenant):
    ask_export(agent_client, "")
    build_waiting_exports(app)
    export = db.session.query(ReportExport).one()
    colleague = logged_in_client(app, make_user(tenant, email="colega@suporte.test"))
    stranger = logged_in_client(app, make_user(other_tenant, email="alheio@outro.test"))
    assert colleague.get(f"/relatorios/{export.id}/arquivo").status_code == 404
    assert stranger.get(f"/relatorios/{export.id}/arquivo").status_code == 404


def test_collaborators_have_no_reports(app, collaborator):
    client = logged_in_client(app, collaborator)
    assert client.get("/relatorios").status_code == 302  # sent to the portal


def test_an_export_with_redis_down_is_made_here_and_the_page_says_so(
    dead_redis_client, agent_user, make_ticket
):
    from app.models import ExportStatus

    make_ticket("Impressora")
    client = dead_redis_client(agent_user)
    token = csrf_token_from(client, "/chamados")
    response = client.post(
        "/relatorios/exportar", data={"filtros": "", "csrf_token": token}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "A fila de tarefas (Redis) não respondeu" in html
    [export] = ReportExport.query.all()
    assert export.status == ExportStatus.DONE  # made by this process, ready to download
