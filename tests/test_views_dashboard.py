import re

from app.models import TicketStatus


def test_painel_shows_counters_and_latest(agent_client, make_ticket, agent_user):
    make_ticket("Sem dono")
    make_ticket("Com dono", assignee_id=agent_user.id, status=TicketStatus.IN_PROGRESS)
    html = agent_client.get("/").get_data(as_text=True)
    assert "Painel" in html and "Últimos chamados" in html
    assert '<strong id="count-unassigned">1</strong>' in html
    # The counters and the latest tickets follow the change feed (live.js); the 30-s poll went.
    assert 'id="counters" aria-label="Indicadores" data-live="tickets"' in html
    assert '<section id="latest-tickets" data-live="tickets">' in html and "every 30s" not in html
    assert html.index("Sem dono") < html.index("Com dono")


def test_latest_fragment_refreshes_alone(agent_client, make_ticket):
    make_ticket("Novo chamado chegou")
    response = agent_client.get("/painel/ultimos", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "Novo chamado chegou" in html


def test_each_status_card_has_its_colour_and_a_space_before_its_number(agent_client, make_ticket):
    make_ticket("Em andamento", status=TicketStatus.IN_PROGRESS)
    html = agent_client.get("/").get_data(as_text=True)
    card = re.search(r'<a class="counter counter-in_progress"[^>]*>(.*?)</a>', html, re.S).group(1)
    badge = '<span class="badge badge-blue" data-status="IN_PROGRESS">Em andamento</span>'
    assert f"{badge} <strong>1</strong>" in card
    assert 'class="counter counter-pending"' in html and 'class="counter counter-paused"' in html
