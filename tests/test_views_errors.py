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
