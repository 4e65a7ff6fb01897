"""Relatórios as an agent uses it: filter the list, export, wait for the file, download it."""

import re
from pathlib import Path

from playwright.sync_api import expect

from app.models import TicketStatus
from tests.conftest import TEST_REDIS_URL, browser_login


def test_export_the_filtered_list_and_download_the_csv(page, agent_user, make_ticket):
    make_ticket("Impressora travada", status=TicketStatus.PAUSED)
    make_ticket("Rede lenta")
    browser_login(page, agent_user)
    page.goto("/chamados?f=1")
    page.get_by_text("Filtros", exact=True).click()  # the whole filter form opens on demand
    page.get_by_label("Pausado").check()
    expect(page.locator("#ticket-table")).not_to_contain_text("Rede lenta")
    page.keyboard.press("Escape")  # and folds again
    page.get_by_role("button", name="Exportar CSV").click()

    expect(page).to_have_url(re.compile(r"/relatorios$"))
    expect(page.locator("#flash-area")).to_contain_text("Exportação pedida")
    row = page.locator("#export-list tbody tr").first
    expect(row).to_contain_text("status=PAUSED")
    if TEST_REDIS_URL:
        # Queued on RQ: the page polls while it waits; a worker (here: the test) builds it.
        expect(row).to_contain_text("Na fila")
        from app.jobs.runner import run_job

        run_job("report_export_runner", "manual")
    expect(row).to_contain_text("Pronto", timeout=10_000)

    with page.expect_download() as download_info:
        row.get_by_role("link", name="Baixar CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    assert "Impressora travada" in text and "Rede lenta" not in text and "Pausado" in text
