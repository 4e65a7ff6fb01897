"""No NUL character reaches a view: forms and query strings are refused with the field named."""

from tests.conftest import csrf_token_from


def test_a_form_with_a_nul_is_refused_naming_the_field_not_repeating_it(agent_client):
    token = csrf_token_from(agent_client, "/chamados/novo")
    response = agent_client.post(
        "/chamados/novo", data={"subject": "Impressora\x00<b>x</b>", "csrf_token": token}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "O campo «subject» contém um caractere inválido (NUL)" in body
    assert "Impressora" not in body


def test_a_query_string_with_a_nul_is_refused(agent_client):
    response = agent_client.get("/chamados?q=rede%00")
    assert response.status_code == 422 and "«q»" in response.get_data(as_text=True)
    api = agent_client.get("/api/machines/session?x=%00")
    assert api.status_code == 422 and api.get_json()["error"]["code"] == "invalid_character"


def test_a_field_name_that_is_not_ours_is_not_echoed(agent_client):
    token = csrf_token_from(agent_client, "/chamados/novo")
    response = agent_client.post("/chamados/novo", data={"<script>\x00": "x", "csrf_token": token})
    assert response.status_code == 422 and "<script>" not in response.get_data(as_text=True)
