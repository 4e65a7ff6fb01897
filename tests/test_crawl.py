"""Every page a person can reach renders: the demo install, crawled as each persona.

The crawl starts at the landing page and follows every same-origin link and hx-get the pages
show (tests/crawl.py), so a page added later is covered without editing this test.
"""

import pytest

from tests.conftest import demo_client
from tests.crawl import crawl

pytestmark = pytest.mark.slow

PERSONAS = ("admin", "agent", "manager", "collaborator", "company_manager", "device")
# What each persona must at least reach, so a crawl that stopped at the door cannot pass.
MUST_REACH = {
    "admin": ("/chamados", "/empresas", "/usuarios", "/dispositivos", "/filas", "/admin/saude"),
    "agent": ("/chamados", "/dispositivos"),
    "manager": ("/chamados", "/relatorios"),
    # The demo has a live chat on one of his tickets: the menu offers "Falar com o suporte".
    "collaborator": ("/portal", "/portal/chamados/novo", "/portal/chat"),
    "company_manager": ("/portal", "/portal/chamados/novo"),
    "device": ("/portal", "/portal/chamados/novo"),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_the_persona_can_reach_renders(app, demo, persona):
    client = demo_client(app, persona)
    result = crawl(client, "/")
    assert result.server_errors() == []
    reached = {url.split("?", 1)[0] for url in result.pages()}
    missing = [path for path in MUST_REACH[persona] if path not in reached]
    assert missing == [], f"{persona} never reached {missing} (crawled {sorted(reached)[:40]})"
    ticket_pages = [url for url in reached if url.rstrip("/").split("/")[-1].isdigit()]
    assert ticket_pages, f"{persona} opened no ticket or record page"
    print(f"{persona}: {len(result.statuses)} requests, {len(result.pages())} pages")
