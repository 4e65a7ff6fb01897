"""The layout (#23): every page works on a phone and the ticket list is dense on a desktop.

Every page the crawl reaches (tests/crawl.py), as each persona of the demo, is opened in Chromium
at 390x844 and at 1440x900: none may scroll sideways (the page wider than the window). The main
pages are saved as screenshots at both sizes in test-artifacts/screenshots/ (ignored by git), to
be looked at. On Chamados at 1440x900 at least 15 ticket rows must show above the fold.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import demo_client, sign_in_persona
from tests.crawl import crawl

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
PERSONAS = ("admin", "agent", "manager", "collaborator", "company_manager", "device")
NOT_PAGES = (".csv",)  # downloads, not pages
ROWS_ABOVE_THE_FOLD = 15

# The main pages of each persona (a path, or a pattern of the crawled URLs: the first match).
MAIN_PAGES = {
    "admin": {
        "painel": "/",
        "chamados": "/chamados",
        "chamado": r"^/chamados/\d+$",
        "novo-chamado": "/chamados/novo",
        "dispositivos": "/dispositivos",
        "dispositivo": r"^/dispositivos/\d+$",
        "empresas": "/empresas",
        "usuarios": "/usuarios",
        "relatorios": "/relatorios",
        "saude": "/admin/saude",
        "auditoria": "/admin/auditoria",
        "minha-conta": "/minha-conta",
    },
    "collaborator": {"portal": "/portal", "portal-chamado": r"^/portal/chamados/\d+$"},
    "company_manager": {"portal-empresa": "/portal"},
}

# How much wider than the window the page is, and the widest elements that stick out.
MEASURE = """() => {
  const width = window.innerWidth;
  const over = [];
  if (document.documentElement.scrollWidth > width) {
    for (const element of document.querySelectorAll("body *")) {
      const box = element.getBoundingClientRect();
      if (box.right > width + 1 && box.width > 0) {
        const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
          + (element.className && typeof element.className === "string"
             ? "." + element.className.trim().split(/\\s+/).join(".") : "");
        over.push(name + " " + Math.round(box.right));
      }
      if (over.length >= 4) break;
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: width, over: over};
}"""


def _main_pages(persona, urls):
    chosen = {}
    for name, wanted in MAIN_PAGES.get(persona, {}).items():
        if wanted.startswith("^"):
            found = next((url for url in urls if re.match(wanted, url)), None)
        else:
            found = wanted if wanted in urls else None
        assert found, f"{persona}: the crawl never reached {name} ({wanted})"
        chosen[found] = name
    return chosen


def _open(page, url):
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    page.wait_for_load_state("load")
    page.wait_for_timeout(60)  # the fragments htmx loads at once (hx-trigger="load")


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_page_scrolls_sideways_on_a_phone_or_a_desktop(app, demo, page, persona):
    urls = [url for url in crawl(demo_client(app, persona), "/").pages() if not url.endswith(NOT_PAGES)]
    assert len(urls) >= 5, urls
    shots = _main_pages(persona, urls)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in_persona(page, app, persona, hostname="caixa-layout")
    too_wide = []
    for url in urls:
        page.set_viewport_size(PHONE)
        _open(page, url)
        for size, suffix in ((PHONE, "mobile"), (DESKTOP, "desktop")):
            page.set_viewport_size(size)
            measured = page.evaluate(MEASURE)
            if measured["scrollWidth"] > measured["width"]:
                too_wide.append(f"{url} at {size['width']}: {measured['scrollWidth']} px {measured['over']}")
            if url in shots:
                page.screenshot(path=SCREENSHOTS / f"layout-{shots[url]}-{suffix}.png", full_page=True)
    print(f"{persona}: {len(urls)} pages at 390 and 1440 px, {len(too_wide)} too wide")
    assert too_wide == [], "\n".join(too_wide)


def test_the_ticket_list_shows_fifteen_rows_above_the_fold(app, demo, page):
    page.set_viewport_size(DESKTOP)
    sign_in_persona(page, app, "admin", hostname="caixa-layout")
    _open(page, "/chamados")
    rows = page.evaluate(
        """(fold) => Array.from(document.querySelectorAll("#ticket-rows tr"))
             .filter((row) => row.getBoundingClientRect().bottom <= fold).length""",
        DESKTOP["height"],
    )
    print(f"Chamados at 1440x900: {rows} rows above the fold")
    page.screenshot(path=SCREENSHOTS / "layout-chamados-fold-desktop.png")
    assert rows >= ROWS_ABOVE_THE_FOLD


def test_on_a_phone_the_menu_folds_and_opens_with_the_account_links(app, demo, page):
    page.set_viewport_size(PHONE)
    sign_in_persona(page, app, "company_manager", hostname="caixa-layout")
    _open(page, "/portal/chamados/novo")
    nav = page.get_by_role("navigation", name="Navegação principal")
    menu = page.get_by_text("Menu", exact=True)
    expect(nav).to_be_hidden()
    expect(page.get_by_role("link", name="Minha conta")).to_be_hidden()
    menu.click()
    # Her portal lists the company's tickets: so does the menu say.
    expect(nav.get_by_role("link", name="Chamados da empresa")).to_be_visible()
    expect(page.get_by_role("link", name="Minha conta")).to_be_visible()
    expect(page.get_by_role("button", name="Encerrar sessão")).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    menu.click()
    page.mouse.click(200, PHONE["height"] - 40)  # a click below the open menu folds it too
    expect(nav).to_be_hidden()
    menu.click()
    page.get_by_role("link", name="Minha conta").click()
    page.wait_for_url("**/minha-conta")
    # On a desktop the same links sit in the bar, with no "Menu".
    page.set_viewport_size(DESKTOP)
    expect(menu).to_be_hidden()
    expect(nav.get_by_role("link", name="Chamados da empresa")).to_be_visible()
    expect(page.get_by_role("link", name="Minha conta")).to_be_visible()
