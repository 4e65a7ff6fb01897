import re
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Company, Machine, MachinePresence, MachineToken
from app.models.types import utcnow
from tests.conftest import sample_inventory


def _ids(html):
    return re.findall(r'<tr data-machine="(\d+)"', html)


def test_device_list_filters(agent_client, app, register_device, tenant):
    other = Company(tenant_id=tenant.id, name="Clínica", apelido="clinica")
    db.session.add(other)
    db.session.commit()
    online, _ = register_device(hostname="recepcao-01", email="ana@paoquente.test")
    offline, _ = register_device(
        hostname="caixa-02",
        serials=("SN-2",),
        macs=("AA-BB-CC-DD-EE-02",),
        code=other.provisioning_code,
        email="bia@clinica.test",
    )
    db.session.get(Machine, offline["machineId"]).presence.last_seen_at = utcnow() - timedelta(hours=2)
    db.session.commit()

    html = agent_client.get("/dispositivos").get_data(as_text=True)
    assert _ids(html) == [str(online["machineId"]), str(offline["machineId"])]
    assert "Windows 11 Pro (26100)" in html and "ana@paoquente.test" in html
    assert "Sistema operacional" not in html and 'name="os"' not in html  # no OS filter
    assert _ids(agent_client.get("/dispositivos?estado=online").get_data(as_text=True)) == [
        str(online["machineId"])
    ]
    assert _ids(agent_client.get("/dispositivos?estado=offline").get_data(as_text=True)) == [
        str(offline["machineId"])
    ]
    assert _ids(agent_client.get(f"/dispositivos?empresa={other.id}").get_data(as_text=True)) == [
        str(offline["machineId"])
    ]
    assert _ids(agent_client.get("/dispositivos?q=bia@").get_data(as_text=True)) == [
        str(offline["machineId"])
    ]
    assert _ids(agent_client.get("/dispositivos?q=sn-2").get_data(as_text=True)) == [
        str(offline["machineId"])
    ]
    fragment = agent_client.get(
        "/dispositivos?q=caixa", headers={"HX-Request": "true", "HX-Target": "device-results"}
    )
    assert "<html" not in fragment.get_data(as_text=True) and "caixa-02" in fragment.get_data(as_text=True)


def test_device_page_shows_inventory_changes_chart_and_tokens(agent_client, app, register_device):
    body, auth = register_device()
    api = app.test_client()
    api.post(
        "/api/machines/heartbeat",
        headers=auth,
        json={
            "inventory": sample_inventory(software=("Firefox", "Java")),
            "metrics": {"cpuPercent": 40, "memoryPercent": 60},
        },
    )
    presence = db.session.get(MachinePresence, body["machineId"])
    presence.last_sample_at -= timedelta(minutes=10)  # the next sample is due
    db.session.commit()
    api.post(
        "/api/machines/heartbeat",
        headers=auth,
        json={
            "inventory": sample_inventory(software=("Firefox", "Chrome")),
            "metrics": {"cpuPercent": 10, "memoryPercent": 55},
        },
    )
    html = agent_client.get(f"/dispositivos/{body['machineId']}").get_data(as_text=True)
    assert "Windows 11 Pro (26100)" in html and "OptiPlex 7090" in html
    assert "Instalado: Chrome 1.0" in html and "Removido: Java 1.0" in html
    assert "<polyline points=" in html and "2 amostras" in html
    assert "Usuário vinculado" in html and "Usuários vinculados" in html and "Ativo" in html
    search = agent_client.get(
        f"/dispositivos/{body['machineId']}?software=chr",
        headers={"HX-Request": "true", "HX-Target": "software-table"},
    ).get_data(as_text=True)
    assert "Chrome" in search and "Firefox" not in search and "1 de 2 programas" in search


def test_reset_and_access_are_admin_only_and_work(admin_client, agent_client, app, register_device):
    body, auth = register_device()
    machine_id = body["machineId"]
    assert agent_client.post(f"/dispositivos/{machine_id}/resetar").status_code == 403
    response = admin_client.post(f"/dispositivos/{machine_id}/resetar", follow_redirects=True)
    assert "Agente resetado" in response.get_data(as_text=True)
    assert app.test_client().post("/api/machines/heartbeat", json={}, headers=auth).status_code == 401
    assert all(t.revoked_reason == "reset" for t in db.session.scalars(select(MachineToken)))
    admin_client.post(
        f"/dispositivos/{machine_id}/acesso", data={"email": "maria@paoquente.test", "persona": "manager"}
    )
    db.session.expire_all()
    machine = db.session.get(Machine, machine_id)
    assert machine.assigned_user.email == "maria@paoquente.test" and machine.persona == "manager"


def test_usb_policy_form(admin_client, register_device):
    body, _ = register_device()
    html = admin_client.post(
        f"/dispositivos/{body['machineId']}/usb", data={"mode": "BLOCK"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Política: <strong>Bloquear</strong> · Pendente" in html


def test_other_tenants_device_is_404(agent_client, other_tenant):
    machine = Machine(tenant_id=other_tenant.id, hostname="deles")
    db.session.add(machine)
    db.session.commit()
    assert agent_client.get(f"/dispositivos/{machine.id}").status_code == 404


def test_user_editor_lists_linked_devices(admin_client, register_device, tenant):
    from app.services.users import find_user

    register_device(email="joana@paoquente.test", hostname="joana-pc")
    person = find_user("joana@paoquente.test")
    html = admin_client.get(f"/usuarios/{person.id}").get_data(as_text=True)
    assert "Dispositivos vinculados" in html and "joana-pc" in html
    devices = admin_client.get("/usuarios?tipo=dispositivos").get_data(as_text=True)
    assert "joana-pc" in devices and "joana@paoquente.test" in devices


def test_device_list_pages_keep_the_filters(agent_client, tenant, company):
    db.session.add_all(
        [Machine(tenant_id=tenant.id, company_id=company.id, hostname=f"pc-{i:03d}") for i in range(55)]
    )
    db.session.commit()
    first = agent_client.get(f"/dispositivos?empresa={company.id}").get_data(as_text=True)
    assert len(_ids(first)) == 50
    next_url = (
        re.search(r'href="(/dispositivos\?[^"]+)"', first.split('class="pager"')[1])
        .group(1)
        .replace("&amp;", "&")
    )
    assert f"empresa={company.id}" in next_url and "apos=" in next_url
    second = agent_client.get(next_url).get_data(as_text=True)
    assert len(_ids(second)) == 5 and not set(_ids(first)) & set(_ids(second))


def test_staff_name_and_describe_a_device_without_touching_its_hostname(
    agent_client, agent_user, app, register_device, collaborator, make_ticket
):
    from app.models import AuditLog
    from tests.conftest import logged_in_client

    body, _auth = register_device(hostname="DESKTOP-7QK2L9")
    machine_id = body["machineId"]
    saved = agent_client.post(
        f"/dispositivos/{machine_id}/descricao",
        data={"display_name": "  Caixa   da loja 2 ", "notes": "Entregue à Joana em 02/12.\nMonitor novo."},
    )
    assert saved.status_code == 302
    page = agent_client.get(f"/dispositivos/{machine_id}").get_data(as_text=True)
    assert "<title>Caixa da loja 2 · Chamados</title>" in page
    assert (
        'id="device-hostname">DESKTOP-7QK2L9<' in page and "Entregue à Joana em 02/12.\nMonitor novo." in page
    )
    # Lists and search know it by its new name, and still by its hostname.
    for search in ("loja 2", "desktop-7qk"):
        listed = agent_client.get(f"/dispositivos?q={search}").get_data(as_text=True)
        assert _ids(listed) == [str(machine_id)], search
        assert "Caixa da loja 2</a>" in listed
    # The chat on its tickets says it too.
    ticket = make_ticket("Sem rede", machine_id=machine_id)
    ticket_page = agent_client.get(f"/chamados/{ticket.reference}").get_data(as_text=True)
    assert re.search(r'id="chat-device-state">\s*Caixa da loja 2 · online', ticket_page)
    # Audited: who changed what.
    entry = db.session.scalars(select(AuditLog).where(AuditLog.target_id == machine_id)).all()[-1]
    assert entry.actor_id == agent_user.id and entry.target_label == "Caixa da loja 2"
    assert entry.changes["display_name"] == [None, "Caixa da loja 2"]
    # The agent registering again reports its hostname; the staff's name and notes stay.
    register_device(hostname="DESKTOP-RENAMED")
    db.session.expire_all()
    machine = db.session.get(Machine, machine_id)
    assert (machine.hostname, machine.display_name) == ("DESKTOP-RENAMED", "Caixa da loja 2")
    assert machine.notes.startswith("Entregue à Joana")
    # Saving the same again writes nothing.
    rows = db.session.query(AuditLog).count()
    agent_client.post(
        f"/dispositivos/{machine_id}/descricao",
        data={"display_name": "Caixa da loja 2", "notes": "Entregue à Joana em 02/12.\nMonitor novo."},
    )
    assert db.session.query(AuditLog).count() == rows
    # A collaborator cannot.
    refused = logged_in_client(app, collaborator).post(
        f"/dispositivos/{machine_id}/descricao", data={"display_name": "meu"}
    )
    assert refused.status_code in (302, 403, 404)
    db.session.expire_all()
    assert db.session.get(Machine, machine_id).display_name == "Caixa da loja 2"


def test_a_too_long_device_name_comes_back_with_what_was_typed(agent_client, register_device):
    body, _auth = register_device()
    typed = "N" * 121
    answer = agent_client.post(
        f"/dispositivos/{body['machineId']}/descricao", data={"display_name": typed, "notes": "anotado"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "Nome de exibição: até 120 caracteres." in html
    assert f'value="{typed}"' in html and "anotado</textarea>" in html
    assert db.session.get(Machine, body["machineId"]).display_name is None


def _beat(app, auth, **body):
    response = app.test_client().post("/api/machines/heartbeat", headers=auth, json=body)
    assert response.status_code == 200, response.get_json()


def test_device_page_shows_alerts_and_tickets_first_and_programs_in_a_box(
    agent_client, app, register_device, make_ticket
):
    body, auth = register_device()
    programs = [f"Programa {number:03d}" for number in range(500)]
    _beat(
        app,
        auth,
        inventory=sample_inventory(software=programs),
        metrics={"cpuPercent": 40, "memoryPercent": 60},
        alerts=[{"kind": "disk_low", "severity": "warning", "details": {"mount": "C:", "free": 4}}],
    )
    make_ticket("Impressora do caixa", machine_id=body["machineId"])
    html = agent_client.get(f"/dispositivos/{body['machineId']}").get_data(as_text=True)
    order = [html.index(f'id="{part}"') for part in ("alerts", "device-tickets", "description", "inventory")]
    assert order == sorted(order), order
    assert "Pouco espaço em disco" in html and "Impressora do caixa" in html
    box = html[html.index('class="software-scroll"') :]
    assert 'tabindex="0"' in box[:200] and 'aria-label="Programas instalados"' in box[:200]
    assert box.count("<tr><td>Programa ") == 500 and "500 de 500 programas" in html
    search = agent_client.get(
        f"/dispositivos/{body['machineId']}?software=programa 49",
        headers={"HX-Request": "true", "HX-Target": "software-table"},
    ).get_data(as_text=True)
    assert "10 de 500 programas" in search and 'class="software-scroll"' in search


def test_one_sample_is_no_chart_yet(agent_client, app, register_device):
    body, auth = register_device()
    page = f"/dispositivos/{body['machineId']}"
    assert "Sem métricas nas últimas 24 horas." in agent_client.get(page).get_data(as_text=True)
    _beat(app, auth, metrics={"cpuPercent": 40.4, "memoryPercent": 61.6})
    html = agent_client.get(page).get_data(as_text=True)
    assert "Ainda sem dados suficientes para o gráfico: uma amostra até agora." in html
    assert "CPU 40%" in html and "memória 62%" in html
    assert "<polyline" not in html and "<svg" not in html


def _disk_cells(html):
    table = html[html.index('id="disk-table"') : html.index("</table>", html.index('id="disk-table"'))]
    return re.findall(r"<td>([^<]*)</td></tr>", table)


def test_one_disk_shows_one_free_space_figure_the_freshest(agent_client, app, register_device):
    body, auth = register_device()
    page = f"/dispositivos/{body['machineId']}"
    _beat(app, auth, inventory=sample_inventory(free=50_000_000_000))
    html = agent_client.get(page).get_data(as_text=True)
    assert _disk_cells(html) == ["50.0 GB (20%)"] and "Espaço livre do inventário, em" in html

    # The disk fills up: the inventory is not stored again (free space is no inventory change),
    # the heartbeat says it. One figure, the heartbeat's, and where it came from.
    _beat(
        app,
        auth,
        inventory=sample_inventory(free=20_000_000_000),
        metrics={"cpuPercent": 5, "disks": [{"mount": "C:", "freePercent": 7.8, "freeBytes": 20 * 10**9}]},
    )
    html = agent_client.get(page).get_data(as_text=True)
    assert _disk_cells(html) == ["20.0 GB (8%)"]
    assert "Espaço livre informado pelo último heartbeat, em" in html
    assert "50.0 GB" not in html and "Menor espaço livre" not in html


def test_several_disks_keep_the_inventory_figures_and_say_the_heartbeat_apart(
    agent_client, app, register_device
):
    body, auth = register_device()
    inventory = sample_inventory(free=128_000_000_000)
    inventory["disks"].append({"mount": "D:", "fs": "NTFS", "totalBytes": 1_000_000_000_000, "freeBytes": 0})
    metrics = {"disks": [{"mount": "C:", "freePercent": 50}, {"mount": "D:"}]}
    _beat(app, auth, inventory=inventory, metrics=metrics)
    html = agent_client.get(f"/dispositivos/{body['machineId']}").get_data(as_text=True)
    assert _disk_cells(html) == ["128.0 GB (50%)", "0.0 GB (0%)"]
    assert "Espaço livre do inventário, em" in html
    assert "informa 50% livres no disco mais cheio" in html
