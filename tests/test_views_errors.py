def test_unknown_page_is_a_portuguese_404(agent_client):
    response = agent_client.get("/nao-existe")
    assert response.status_code == 404 and "Página não encontrada." in response.get_data(as_text=True)


def test_api_errors_are_json(client):
    response = client.get("/api/nada")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "Página não encontrada."}}


def test_htmx_errors_go_to_the_message_area(agent_client):
    response = agent_client.get("/chamados/999999", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#flash-area"


HUGE = "9" * 30
BEYOND_INT32 = str(2**31)


def test_numbers_no_row_could_have_are_404_not_a_database_error(admin_client):
    """PostgreSQL refuses a number beyond its INTEGER columns with an error: every <int:…> in a
    route stops at 2³¹ − 1, so those URLs are simply not found (on SQLite as on PostgreSQL)."""
    for path in (
        f"/chamados/{BEYOND_INT32}",
        f"/dispositivos/{BEYOND_INT32}",
        f"/usuarios/{HUGE}",
        f"/empresas/{BEYOND_INT32}",
        f"/anexos/{BEYOND_INT32}",
        f"/relatorios/{BEYOND_INT32}/arquivo",
        f"/portal/chamados/{BEYOND_INT32}",
    ):
        assert admin_client.get(path).status_code == 404, path


def test_numbers_in_query_strings_and_forms_are_bounded(admin_client, make_ticket):
    make_ticket()
    for path in (
        f"/dispositivos?apos={HUGE}",
        f"/admin/saude/tarefas?antes={HUGE}",
        f"/admin/auditoria?antes={BEYOND_INT32}",
        f"/relatorios?pagina={HUGE}",
        f"/chamados?fila={HUGE}",
        f"/chamados?responsavel={BEYOND_INT32}",
        "/chamados?por_pagina=²",
    ):
        assert admin_client.get(path).status_code in (200, 400), path
    archive = admin_client.post("/admin/saude/arquivar", data={"dias": HUGE}, follow_redirects=True)
    assert archive.status_code == 200 and "de 1 a 36500" in archive.get_data(as_text=True)
    bulk = admin_client.post(
        "/chamados/em-massa", data={"ticket": ["²", HUGE], "acao": "prioridade", "valor": "HIGH"}
    )
    assert bulk.status_code < 500
