from datetime import timedelta

import orjson
import pytest
from sqlalchemy import func, select

from app.devices.admin import adjust_access, link_user, reset_agent, unlink_user
from app.devices.identity import hardware_fingerprint
from app.devices.inventory import SentInventory, diff_inventories, store_inventory
from app.devices.online import is_online
from app.devices.people import machines_of_user
from app.devices.read_models import format_os_version
from app.devices.tokens import (
    _TOKEN_CONTEXT,
    authenticate_token,
    check_token_still_valid,
    hash_token,
    token_context_row,
)
from app.devices.usb import commands_for, expire_stale_usb_policies, set_usb_policy
from app.extensions import db
from app.models import (
    Company,
    InventorySnapshot,
    Machine,
    MachineAlert,
    MachineToken,
    MetricSample,
    Role,
    Ticket,
    UsbPolicy,
    UsbPolicyStatus,
    User,
)
from app.models.types import utcnow
from app.services.errors import Conflict, DomainError, ValidationError
from tests.conftest import make_user, sample_inventory


def _machine(body):
    return db.session.get(Machine, body["machineId"])


# --- identity and OS label ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "build", "label"),
    [
        ("Windows 11 Pro", "11", "26100", "Windows 11 Pro (26100)"),
        ("Windows 10 Home", "10.0", "19045", "Windows 10 Home 10.0 (19045)"),
        ("Debian GNU/Linux", "12 (bookworm)", "", "Debian GNU/Linux 12 (bookworm)"),
        ("Windows 11 Pro", "", "26100", "Windows 11 Pro (26100)"),
        ("macOS", "14.5", "23F79", "macOS 14.5 (23F79)"),
        ("", "", "", "Sistema desconhecido"),
    ],
)
def test_format_os_version_never_repeats_the_major(name, version, build, label):
    assert format_os_version(name, version, build) == label


def test_fingerprint_prefers_serials_and_ignores_placeholders():
    assert hardware_fingerprint(["To be filled by O.E.M.", "0"], []) is None
    by_serial = hardware_fingerprint(["sn-1"], ["aa:bb:cc:dd:ee:01"])
    assert by_serial == hardware_fingerprint(["SN-1 "], ["11:22:33:44:55:66"])
    assert hardware_fingerprint([], ["AA-BB-CC-DD-EE-01"]) == hardware_fingerprint([], ["aa:bb:cc:dd:ee:01"])


# --- registration -----------------------------------------------------------------


def test_register_creates_device_person_and_token(register_device, company):
    body, _auth = register_device(email="Nova.Pessoa@PaoQuente.test")
    machine = _machine(body)
    person = db.session.get(User, body["assignedUser"]["id"])
    assert person.email == "nova.pessoa@paoquente.test" and person.role == Role.COLLABORATOR
    assert person.company_id == company.id and machine.company_id == company.id
    assert machine.presence.last_seen_at is not None and body["reused"] is False


def test_same_hardware_reuses_the_record_and_revokes_old_tokens(app, register_device):
    first, old_auth = register_device()
    second, new_auth = register_device(hostname="recepcao-renomeada", macs=("AA-BB-CC-DD-EE-99",))
    assert second["machineId"] == first["machineId"] and second["reused"] is True
    assert _machine(second).hostname == "recepcao-renomeada"
    client = app.test_client()
    assert (
        client.post("/api/machines/heartbeat", json={}, headers=old_auth).get_json()["error"]["code"]
        == "token_revoked"
    )
    assert client.post("/api/machines/heartbeat", json={}, headers=new_auth).status_code == 200


def test_new_hardware_is_a_new_record(register_device):
    first, _ = register_device(serials=("SN-001",))
    second, _ = register_device(serials=("SN-002",), macs=("AA-BB-CC-DD-EE-02",))
    assert first["machineId"] != second["machineId"]


def test_email_of_another_companys_collaborator_is_refused(api_client, register_device, tenant, company):
    other = Company(tenant_id=tenant.id, name="Outra", apelido="outra")
    db.session.add(other)
    db.session.commit()
    make_user(tenant, Role.COLLABORATOR, email="alguem@outra.test", company=other)
    response = api_client.post(
        "/api/machines/register",
        headers={"X-Provisioning-Secret": "test-provisioning-secret"},
        json={"companyCode": company.provisioning_code, "email": "alguem@outra.test", "hostname": "pc"},
    )
    assert response.status_code == 409 and response.get_json()["error"]["field"] == "email"


@pytest.fixture
def api_client(app):
    return app.test_client()


def test_expired_token_is_401(api_client, register_device):
    body, auth = register_device()
    token = db.session.scalar(select(MachineToken).where(MachineToken.machine_id == body["machineId"]))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = api_client.post("/api/machines/heartbeat", json={}, headers=auth)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_expired"


def test_deactivated_device_is_403(api_client, register_device):
    body, auth = register_device()
    _machine(body).is_active = False
    db.session.commit()
    response = api_client.post("/api/machines/heartbeat", json={}, headers=auth)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "machine_disabled"


def test_token_ttl_comes_from_configuration(app, register_device):
    body, _ = register_device()
    token = db.session.scalar(select(MachineToken).where(MachineToken.machine_id == body["machineId"]))
    lifetime = token.expires_at - token.created_at
    assert lifetime == timedelta(milliseconds=app.config["MACHINE_TOKEN_TTL_MS"])


def test_a_token_never_reaches_another_tenants_data(app, register_device, other_tenant):
    foreign_company = Company(tenant_id=other_tenant.id, name="Deles", apelido="deles")
    db.session.add(foreign_company)
    db.session.commit()
    mine, auth = register_device()
    theirs, _ = register_device(
        code=foreign_company.provisioning_code, email="x@deles.test", serials=("SN-001",)
    )  # same serial, other tenant: a different device
    assert theirs["machineId"] != mine["machineId"]
    assert _machine(theirs).tenant_id == other_tenant.id
    session = app.test_client().get("/api/machines/session", headers=auth).get_json()
    assert (
        session["machine"]["id"] == mine["machineId"]
        and session["machine"]["company"]["apelido"] == "paoquente"
    )


# --- heartbeats, presence ----------------------------------------------------------


def test_online_is_a_heartbeat_within_the_window(app, register_device):
    body, _ = register_device()
    machine = _machine(body)
    assert is_online(machine.presence.last_seen_at)
    machine.presence.last_seen_at = utcnow() - timedelta(
        seconds=app.config["MACHINE_ONLINE_WINDOW_SECONDS"] + 1
    )
    db.session.commit()
    assert not is_online(machine.presence.last_seen_at)
    assert not is_online(None)


def test_heartbeats_keep_a_metric_sample_only_every_few_minutes(
    app, api_client, register_device, monkeypatch
):
    body, auth = register_device()
    machine = _machine(body)

    def beat(cpu):
        assert (
            api_client.post(
                "/api/machines/heartbeat", json={"metrics": {"cpuPercent": cpu}}, headers=auth
            ).status_code
            == 200
        )
        db.session.expire_all()

    def samples():
        return db.session.scalars(select(MetricSample.cpu_percent).order_by(MetricSample.id)).all()

    beat(10)
    first_seen = machine.presence.last_seen_at
    beat(20)  # seconds later: presence moves on, no second sample
    assert samples() == [10] and machine.presence.last_seen_at > first_seen
    machine.presence.last_sample_at -= timedelta(seconds=app.config["METRIC_SAMPLE_SECONDS"])
    db.session.commit()
    beat(30)
    assert samples() == [10, 30]
    monkeypatch.setitem(app.config, "METRIC_SAMPLE_SECONDS", 0)  # every heartbeat, for sites that want it
    beat(40)
    assert samples() == [10, 30, 40]


# --- inventory text fingerprints ------------------------------------------------


def _send_inventory(api_client, auth, inventory) -> bool:
    """POST the inventory as this JSON text; whether a snapshot was stored."""
    response = api_client.post(
        "/api/machines/heartbeat",
        data=orjson.dumps({"inventory": inventory}),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    return response.get_json()["inventoryStored"]


def _snapshots(machine) -> int:
    return db.session.scalar(select(func.count()).where(InventorySnapshot.machine_id == machine.id))


def _never_parse(monkeypatch):
    def parse(_self):
        raise AssertionError("the inventory was parsed")

    monkeypatch.setattr(SentInventory, "document", parse)


def test_the_same_inventory_text_again_is_recognised_without_parsing_it(
    api_client, register_device, monkeypatch
):
    body, auth = register_device()
    machine = _machine(body)
    assert _send_inventory(api_client, auth, sample_inventory(free=10)) is True
    _never_parse(monkeypatch)
    # Only the free space moved: no change of inventory, and still no parsing of the rest.
    assert _send_inventory(api_client, auth, sample_inventory(free=20)) is False
    assert _snapshots(machine) == 1


def test_a_change_inside_one_part_is_stored_though_the_other_parts_are_the_same_text(
    api_client, register_device
):
    body, auth = register_device()
    machine = _machine(body)
    _send_inventory(api_client, auth, sample_inventory(software=("Firefox",)))
    assert _send_inventory(api_client, auth, sample_inventory(software=("Firefox", "Chrome"))) is True
    assert _send_inventory(api_client, auth, sample_inventory(software=("Firefox",))) is True  # and back
    assert _snapshots(machine) == 3


def test_the_same_content_written_differently_is_no_change_and_writes_nothing(api_client, register_device):
    body, auth = register_device()
    machine = _machine(body)
    inventory = sample_inventory()
    _send_inventory(api_client, auth, inventory)
    fingerprint, updated_at = machine.inventory_fingerprint, machine.updated_at
    reordered = {**inventory, "hardware": dict(reversed(list(inventory["hardware"].items())))}
    for _ in range(3):
        assert _send_inventory(api_client, auth, reordered) is False
    assert _snapshots(machine) == 1
    # The fingerprint stays that of the stored text: an agent that wrote every beat
    # differently must not turn every beat into a write.
    assert (machine.inventory_fingerprint, machine.updated_at) == (fingerprint, updated_at)


def test_after_an_inventory_from_another_source_the_agents_own_counts_again(api_client, register_device):
    body, auth = register_device()
    machine = _machine(body)
    inventory = sample_inventory()
    _send_inventory(api_client, auth, inventory)
    store_inventory(machine, sample_inventory(software=("GLPI",)), utcnow())  # e.g. FusionInventory
    db.session.commit()
    assert machine.inventory_fingerprint is None
    assert _send_inventory(api_client, auth, inventory) is True  # the same text as before, stored again
    assert _snapshots(machine) == 3


def test_a_snapshot_stored_before_fingerprints_gets_its_fingerprint_once(
    api_client, register_device, monkeypatch
):
    body, auth = register_device()
    machine = _machine(body)
    inventory = sample_inventory()
    _send_inventory(api_client, auth, inventory)
    machine.inventory_fingerprint = None  # as after the upgrade that added the column
    db.session.commit()
    updated_at = machine.updated_at
    assert _send_inventory(api_client, auth, inventory) is False
    assert machine.inventory_fingerprint is not None and machine.updated_at == updated_at
    _never_parse(monkeypatch)
    assert _send_inventory(api_client, auth, inventory) is False
    assert _snapshots(machine) == 1


def test_inventory_diff_lists_software_and_disk_changes():
    from tests.conftest import sample_inventory

    old = sample_inventory(software=("Firefox", "Java"))
    new = sample_inventory(software=("Firefox", "Chrome"))
    new["disks"].append({"mount": "D:", "totalBytes": 1})
    diff = diff_inventories(old, new)
    assert diff["software_added"] == [("Chrome", "1.0")] and diff["software_removed"] == [("Java", "1.0")]
    assert diff["disks"] == [{"mount": "D:", "change": "adicionado"}]


# --- alerts ------------------------------------------------------------------------


def test_alerts_are_not_duplicated_and_resolve_when_no_longer_reported(api_client, register_device):
    body, auth = register_device()
    cpu = {"kind": "cpu_high", "severity": "warning", "details": {"cpu": 97}}
    smart = {"kind": "smart_failing", "severity": "critical", "details": {"disk": "<script>C:</script>"}}
    for _ in range(3):
        api_client.post("/api/machines/heartbeat", json={"alerts": [cpu]}, headers=auth)
    api_client.post("/api/machines/heartbeat", json={"alerts": [cpu, smart]}, headers=auth)
    open_kinds = db.session.scalars(select(MachineAlert.kind).where(MachineAlert.resolved_at.is_(None))).all()
    assert sorted(open_kinds) == ["cpu_high", "smart_failing"]
    api_client.post(
        "/api/machines/heartbeat", json={"metrics": {"cpuPercent": 3}}, headers=auth
    )  # no "alerts" key
    assert (
        db.session.scalar(
            select(func.count()).select_from(MachineAlert).where(MachineAlert.resolved_at.is_(None))
        )
        == 2
    )
    api_client.post("/api/machines/heartbeat", json={"alerts": [smart]}, headers=auth)
    db.session.expire_all()
    cpu_alert = db.session.scalar(select(MachineAlert).where(MachineAlert.kind == "cpu_high"))
    assert cpu_alert.resolved_at is not None
    tickets = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
    assert [t.subject for t in tickets] == [
        "Alerta: CPU alta em recepcao-01",
        "Alerta: Disco com falha (SMART) em recepcao-01",
    ]
    assert tickets[1].priority == "URGENT" and tickets[1].machine_id == body["machineId"]
    assert tickets[0].queue.name == "Chamados" and tickets[0].requester.email == "alertas@chamados.local"
    assert "<script>" not in tickets[1].description_html and "&lt;script&gt;" in tickets[1].description_html


def test_alert_tickets_can_be_switched_off(app, api_client, register_device):
    app.config["MACHINE_ALERTS_CREATE_TICKETS"] = False
    try:
        _body, auth = register_device()
        api_client.post(
            "/api/machines/heartbeat", json={"alerts": [{"kind": "service_stopped"}]}, headers=auth
        )
    finally:
        app.config["MACHINE_ALERTS_CREATE_TICKETS"] = True
    assert db.session.scalar(select(func.count()).select_from(MachineAlert)) == 1
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


# --- USB policy --------------------------------------------------------------------


def test_usb_policy_life_cycle(app, api_client, register_device, admin_user):
    body, auth = register_device()
    machine = _machine(body)
    policy = set_usb_policy(machine, "READ_ONLY", admin_user)
    assert policy.status is UsbPolicyStatus.PENDING
    assert set_usb_policy(machine, "READ_ONLY", admin_user).requested_at == policy.requested_at  # no rewrite
    ack = api_client.post(
        "/api/machines/usb-policy/ack", json={"status": "FAILED", "message": "Sem permissão"}, headers=auth
    )
    assert ack.get_json()["status"] == "FAILED"
    db.session.expire_all()
    assert db.session.get(UsbPolicy, machine.id).message == "Sem permissão"
    with pytest.raises(ValidationError):
        set_usb_policy(machine, "TALVEZ", admin_user)


def test_stale_pending_policies_expire(app, register_device, admin_user):
    body, _ = register_device()
    other, _ = register_device(serials=("SN-XYZ",), macs=("AA-BB-CC-DD-EE-77",))
    old = set_usb_policy(_machine(body), "BLOCK", admin_user)
    old.requested_at = utcnow() - timedelta(minutes=app.config["USB_POLICY_STALE_MINUTES"] + 1)
    db.session.commit()
    set_usb_policy(_machine(other), "BLOCK", admin_user)
    assert expire_stale_usb_policies() == 1
    db.session.expire_all()
    statuses = {p.machine_id: p.status for p in db.session.scalars(select(UsbPolicy))}
    assert statuses == {
        body["machineId"]: UsbPolicyStatus.EXPIRED,
        other["machineId"]: UsbPolicyStatus.PENDING,
    }
    assert expire_stale_usb_policies() == 0


# --- admin actions and the seed's hand-over checklist --------------------------------


def test_links_and_access(register_device, tenant, company):
    body, _ = register_device()
    machine = _machine(body)
    helper = make_user(tenant, Role.COLLABORATOR, email="gestor@paoquente.test", company=company)
    link_user(machine, helper.email)
    with pytest.raises(Conflict):
        link_user(machine, helper.email)
    assert [u.email for u in machine.linked_users] == ["gestor@paoquente.test"]
    assert machine in machines_of_user(helper)
    unlink_user(machine, helper.id)
    db.session.expire_all()
    assert _machine(body).linked_users == []


def test_hand_over_checklist_of_the_seed(app, api_client, register_device, tenant, company, make_ticket):
    """João hands his old computer to Maria and gets a new one (seed 000, section 4)."""
    yellow, yellow_auth = register_device(
        email="joao@paoquente.test", serials=("AMARELA",), macs=("AA-00-00-00-00-01",)
    )
    old_ticket = make_ticket("Teclado falhando", machine_id=yellow["machineId"])

    # 1. In the panel: Resetar agente, then Ajustar acesso to Maria.
    machine = _machine(yellow)
    assert reset_agent(machine) == 1
    assert api_client.post("/api/machines/heartbeat", json={}, headers=yellow_auth).status_code == 401
    adjust_access(machine, "maria@paoquente.test", "collaborator")
    assert _machine(yellow).assigned_user.email == "maria@paoquente.test"

    # 2. Reinstall on the yellow machine with Maria's e-mail: same record, new token, history kept.
    again, again_auth = register_device(
        email="maria@paoquente.test", serials=("AMARELA",), macs=("AA-00-00-00-00-01",)
    )
    assert (
        again["machineId"] == yellow["machineId"] and again["assignedUser"]["email"] == "maria@paoquente.test"
    )
    assert api_client.post("/api/machines/heartbeat", json={}, headers=again_auth).status_code == 200
    assert db.session.get(Ticket, old_ticket.id).machine_id == yellow["machineId"]

    # 3. A new (blue) machine for João: a second record.
    blue, _ = register_device(email="joao@paoquente.test", serials=("AZUL",), macs=("AA-00-00-00-00-02",))
    assert blue["machineId"] != yellow["machineId"]

    # 4. Final check: two devices, yellow with Maria and its history, blue with João.
    db.session.expire_all()
    devices = {m.id: m.assigned_user.email for m in db.session.scalars(select(Machine))}
    assert devices == {yellow["machineId"]: "maria@paoquente.test", blue["machineId"]: "joao@paoquente.test"}


def test_the_token_query_reads_the_same_values_on_every_path(app, chat_device, agent_user, admin_user):
    """On PostgreSQL the token query runs on the raw driver connection; its row must be
    exactly what SQLAlchemy's own execution gives (datetimes, enum names, chat counts)."""
    from app.chat.messages import post_message

    setup = chat_device()
    setup.start(agent_user)
    post_message(setup.ticket, author=agent_user, from_device=False, body="Olá, pode reiniciar?")
    set_usb_policy(setup.machine, "BLOCK", admin_user)
    db.session.commit()  # both paths read committed rows (the reference one on its own connection)
    token_hash = hash_token(setup.token)

    fast = token_context_row(token_hash)
    with db.engine.connect() as connection:
        reference = connection.execute(_TOKEN_CONTEXT, {"token_hash": token_hash}).first()
    assert tuple(fast) == tuple(reference)
    context = authenticate_token(setup.token)
    assert (context.chat_sessions, context.chat_unread) == (1, 1)
    assert commands_for(context)[0]["mode"] == "BLOCK"
    assert token_context_row("0" * 64) is None


def test_the_socket_credential_check_reads_what_the_session_committed(app, chat_device):
    """check_token_still_valid reads outside the caller's transaction (db_direct): a reset
    committed elsewhere is seen at once, and an unknown id is refused."""
    setup = chat_device()
    token_id = authenticate_token(setup.token).token_id
    check_token_still_valid(token_id)
    reset_agent(setup.machine)
    with pytest.raises(DomainError) as revoked:
        check_token_still_valid(token_id)
    assert revoked.value.code == "token_revoked"
    with pytest.raises(DomainError) as unknown:
        check_token_still_valid(10**9)
    assert unknown.value.code == "token_invalid"
