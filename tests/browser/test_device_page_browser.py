"""The device page of a computer with hundreds of programs, as staff see it: what needs attention
(alerts, tickets) first, the programs in a box of their own that the search still filters."""

from pathlib import Path

from playwright.sync_api import expect

from tests.conftest import browser_login, sample_inventory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def test_a_device_with_500_programs_fits_and_puts_alerts_and_tickets_first(
    page, app, agent_user, register_device, make_ticket
):
    body, auth = register_device(hostname="financeiro-07")
    response = app.test_client().post(
        "/api/machines/heartbeat",
        headers=auth,
        json={
            "inventory": sample_inventory(software=[f"Programa {number:03d}" for number in range(500)]),
            "metrics": {
                "cpuPercent": 35,
                "memoryPercent": 70,
                "disks": [{"mount": "C:", "freePercent": 4.2}],
            },
            "alerts": [{"kind": "disk_low", "severity": "warning", "details": {"mount": "C:", "free": 4.2}}],
        },
    )
    assert response.status_code == 200
    make_ticket("Sem espaço para salvar planilhas", machine_id=body["machineId"])
    browser_login(page, agent_user)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"/dispositivos/{body['machineId']}")
        alerts, tickets = page.locator("#alerts"), page.locator("#device-tickets")
        expect(alerts).to_contain_text("Pouco espaço em disco")
        expect(tickets).to_contain_text("Sem espaço para salvar planilhas")
        inventory_top = page.locator("#inventory").bounding_box()["y"]
        assert alerts.bounding_box()["y"] < inventory_top and tickets.bounding_box()["y"] < inventory_top
        if width == 1440:  # the first screen shows them
            assert alerts.bounding_box()["y"] < height and tickets.bounding_box()["y"] < height
        # One free-space figure for the one disk: the heartbeat's (4%), not the inventory's (20%).
        expect(page.locator("#disk-table tbody")).to_contain_text("(4%)")
        expect(page.locator("#disk-table tbody")).not_to_contain_text("(20%)")
        expect(page.locator("#chart-too-few")).to_have_text(
            "Ainda sem dados suficientes para o gráfico: uma amostra até agora."
        )
        box = page.get_by_role("region", name="Programas instalados")
        expect(box.locator("tbody tr")).to_have_count(500)
        scroll = box.evaluate("(b) => [b.scrollHeight, b.clientHeight]")
        assert scroll[0] > 3 * scroll[1], scroll
        page_height = page.evaluate("() => document.documentElement.scrollHeight")
        assert page_height < 6000, page_height  # 500 rows inline made it 22 690 px
        page.screenshot(path=SCREENSHOTS / f"dispositivo-{width}x{height}.png", full_page=True)

    page.get_by_label("Procurar programa").fill("Programa 49")
    expect(page.locator("#software-table")).to_contain_text("10 de 500 programas")
    expect(page.get_by_role("region", name="Programas instalados").locator("tbody tr")).to_have_count(10)
    assert errors == []
