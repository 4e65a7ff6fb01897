"""POST /api/machines/tickets: "Abrir chamado" from the computer (the desktop agent's dialog)."""

import base64
import io

import pytest
from PIL import Image
from sqlalchemy import select

from app.devices.tickets import SCREENSHOT_MAX_BYTES
from app.extensions import db
from app.models import Attachment, Machine, MachineLink, Ticket
from tests.conftest import assert_conforms

PATH = "/api/machines/tickets"


def _png(width=64, height=48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def api(app):
    return app.test_client()


def test_the_ticket_is_the_device_persons_with_the_device_and_the_screenshot(api, register_device, queue):
    body, auth = register_device()
    png = _png()
    response = api.post(
        PATH,
        json={
            "subject": "  Impressora   não imprime ",
            "description": "Aparece <erro> 0x1F\n\nDesde ontem.",
            "screenshot": {"filename": "tela.png", "contentBase64": _b64(png)},
        },
        headers=auth,
    )
    assert response.status_code == 201, response.get_json()
    assert_conforms(response, PATH)
    answer = response.get_json()
    ticket = db.session.scalar(select(Ticket).where(Ticket.reference == answer["ticket"]))
    assert answer == {
        "ticket": ticket.reference,
        "subject": "Impressora não imprime",
        "portalPath": f"/portal/chamados/{ticket.reference}",
        "screenshotAttached": True,
    }
    assert ticket.machine_id == body["machineId"]
    assert ticket.requester_id == body["assignedUser"]["id"]
    assert ticket.company.provisioning_code  # the device's company
    assert ticket.queue.name == "Chamados"
    # Plain text, escaped, one paragraph per line.
    assert "&lt;erro&gt;" in ticket.description_html and "<erro>" not in ticket.description_html
    assert ticket.description_html.count("<div>") == 3
    attachment = db.session.scalar(select(Attachment).where(Attachment.ticket_id == ticket.id))
    assert attachment.filename == "tela.png" and attachment.content_type == "image/png"
    assert attachment.size_bytes == len(png) and attachment.uploaded_by_id == ticket.requester_id


def test_without_a_screenshot_and_the_portal_shows_it_through_the_handshake(api, app, register_device):
    body, auth = register_device()
    response = api.post(PATH, json={"subject": "Sem internet"}, headers=auth)
    assert response.status_code == 201 and response.get_json()["screenshotAttached"] is False
    path = response.get_json()["portalPath"]

    browser = app.test_client()
    handshake = browser.get(f"/machines/handshake?token={body['machineToken']}&redirect={path}")
    assert handshake.status_code == 302 and handshake.headers["Location"].endswith(path)
    page = browser.get(path)
    assert page.status_code == 200 and "Sem internet" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("redirect", "status"),
    [
        ("/portal/chamados/novo", 302),
        ("/portal/chamados/0", 400),
        ("/portal/chamados/99999999999", 400),
        ("/portal/chamados/1/../../admin", 400),
        ("//evil.example/portal/chamados/1", 400),
    ],
)
def test_handshake_destinations(app, register_device, redirect, status):
    body, _ = register_device()
    response = app.test_client().get(
        "/machines/handshake", query_string={"token": body["machineToken"], "redirect": redirect}
    )
    assert response.status_code == status
    if status == 302:
        assert response.headers["Location"] == redirect


@pytest.mark.parametrize(
    ("screenshot", "status", "code"),
    [
        ({"contentBase64": "não é base64!"}, 422, "invalid_field"),
        ({"contentBase64": "iVBORw0KGgo"}, 422, "invalid_field"),  # bad padding
        ({"contentBase64": _b64(b"GIF89a" + b"\x00" * 40)}, 422, "invalid_screenshot"),
        (
            {"filename": "tela.jpg", "contentBase64": _b64(b"\xff\xd8\xff" + b"\x00" * 40)},
            422,
            "invalid_screenshot",
        ),
        (
            {"contentBase64": _b64(b"\x89PNG\r\n\x1a\n" + b"\x00" * SCREENSHOT_MAX_BYTES)},
            413,
            "file_too_large",
        ),
        ({"filename": "tela.png"}, 422, "invalid_field"),
    ],
)
def test_a_bad_screenshot_is_refused_and_no_ticket_is_left(api, register_device, screenshot, status, code):
    _, auth = register_device()
    response = api.post(PATH, json={"subject": "Tela azul", "screenshot": screenshot}, headers=auth)
    assert response.status_code == status, response.get_json()
    assert_conforms(response, PATH)
    error = response.get_json()["error"]
    assert error["code"] == code and error["field"] == "screenshot.contentBase64"
    assert "base64!" not in error["message"]  # the value sent is never repeated
    assert db.session.scalar(select(Ticket.id)) is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "subject"), ({"subject": "   "}, "subject"), ({"subject": "x" * 201}, "subject")],
)
def test_the_subject_is_required(api, register_device, payload, field):
    _, auth = register_device()
    response = api.post(PATH, json=payload, headers=auth)
    assert response.status_code == 422 and response.get_json()["error"]["field"] == field
    assert db.session.scalar(select(Ticket.id)) is None


def test_a_device_of_a_staff_member_opens_no_ticket(api, register_device, agent_user):
    _, auth = register_device(email=agent_user.email)
    response = api.post(PATH, json={"subject": "Como agente"}, headers=auth)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "staff_person"
    assert_conforms(response, PATH)
    assert db.session.scalar(select(Ticket.id)) is None


def test_a_device_without_a_person_opens_no_ticket(api, register_device):
    body, auth = register_device()
    machine = db.session.get(Machine, body["machineId"])
    machine.assigned_user_id = None
    db.session.execute(MachineLink.__table__.delete().where(MachineLink.machine_id == machine.id))
    db.session.commit()
    response = api.post(PATH, json={"subject": "Ninguém"}, headers=auth)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "no_linked_person"


def test_without_a_valid_token(api, register_device):
    assert api.post(PATH, json={"subject": "x"}).status_code == 401
    body, auth = register_device()
    from app.devices.admin import reset_agent

    reset_agent(db.session.get(Machine, body["machineId"]))
    response = api.post(PATH, json={"subject": "x"}, headers=auth)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_revoked"
