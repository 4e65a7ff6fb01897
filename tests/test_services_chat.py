"""Live chat rules (seed 004): sessions, messages, unread counters, auto-end, files."""

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from app.chat.access import ticket_for_machine, ticket_for_staff
from app.chat.messages import IncomingFile, list_messages, mark_read, messages_after, post_message
from app.chat.read_models import chat_history
from app.chat.sessions import auto_end_inactive_sessions, end_session, start_session
from app.extensions import db
from app.models import (
    Attachment,
    ChatMessage,
    ChatSessionStatus,
    LiveChatSession,
    MachineLink,
    MachinePresence,
    Role,
    TicketEvent,
    User,
)
from app.models.types import utcnow
from app.services.errors import DomainError
from tests.conftest import make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64


def _events(ticket, kind):
    return db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.type == kind)
    ).all()


def _set_last_seen(machine_id, when):
    db.session.execute(
        update(MachinePresence).where(MachinePresence.machine_id == machine_id).values(last_seen_at=when)
    )
    db.session.commit()


def test_start_refused_when_the_device_is_offline(chat_device, agent_user):
    setup = chat_device()
    _set_last_seen(setup.machine_id, utcnow() - timedelta(minutes=6))
    with pytest.raises(DomainError) as refused:
        start_session(agent_user, setup.ticket)
    assert refused.value.status == 409 and "offline" in refused.value.message
    assert db.session.scalar(select(func.count()).select_from(LiveChatSession)) == 0


def test_start_refused_for_a_ticket_without_device_and_for_collaborators(
    make_ticket, agent_user, chat_device
):
    with pytest.raises(DomainError) as no_device:
        start_session(agent_user, make_ticket("Sem dispositivo"))
    assert no_device.value.code == "ticket_without_machine"
    setup = chat_device()
    with pytest.raises(DomainError) as not_staff:
        start_session(setup.ticket.requester, setup.ticket)
    assert not_staff.value.status == 403


def test_second_start_returns_the_same_session_and_enables_chat(chat_device, agent_user, admin_user):
    setup = chat_device()
    first, is_new = start_session(agent_user, setup.ticket)
    again, again_new = start_session(admin_user, setup.ticket)
    assert is_new and not again_new and again.id == first.id
    assert setup.ticket.chat_enabled is True
    started = _events(setup.ticket, "LIVE_CHAT_STARTED")
    assert len(started) == 1 and started[0].payload["machineHostname"] == "recepcao-01"


def test_end_writes_duration_and_ending_twice_is_a_conflict(chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    end_session(agent_user, setup.ticket)
    ended = _events(setup.ticket, "LIVE_CHAT_ENDED")
    assert len(ended) == 1 and ended[0].payload["durationMs"] >= 0 and "autoEnded" not in ended[0].payload
    with pytest.raises(DomainError) as twice:
        end_session(agent_user, setup.ticket)
    assert twice.value.status == 409 and twice.value.message == "Sessão já encerrada."


def test_messages_are_numbered_per_ticket_and_count_unread_for_the_other_side(chat_device, agent_user):
    setup = chat_device()
    session = setup.start(agent_user)
    one = post_message(setup.ticket, author=agent_user, from_device=False, body="Olá, pode reiniciar?")
    two = post_message(setup.ticket, author=None, from_device=True, body="Reiniciei.")
    three = post_message(setup.ticket, author=None, from_device=True, body="Continua igual.")
    assert [one.seq, two.seq, three.seq] == [1, 2, 3]
    assert not one.from_machine and two.from_machine and two.author_name == "joana"
    db.session.refresh(session)
    assert (session.unread_by_machine, session.unread_by_agent) == (1, 2)
    assert mark_read(setup.ticket, by_device=False) == 2
    db.session.refresh(session)
    assert session.unread_by_agent == 0 and session.unread_by_machine == 1


def test_numbers_continue_in_the_next_session(chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    post_message(setup.ticket, author=agent_user, from_device=False, body="primeira sessão")
    end_session(agent_user, setup.ticket)
    setup.start(agent_user)
    message = post_message(setup.ticket, author=agent_user, from_device=False, body="segunda sessão")
    assert message.seq == 2


def test_device_user_rule_assigned_then_linked_then_requester(chat_device, agent_user, tenant, company):
    """The rule decides whom a device's message is from (and a staff message is never "from the machine")."""
    setup = chat_device()
    setup.start(agent_user)
    machine = setup.machine

    def device_says(body):
        message = post_message(setup.ticket, author=None, from_device=True, body=body)
        assert message.from_machine
        return message.author_id, message.author_name

    assigned = machine.assigned_user_id
    assert device_says("do usuário atribuído") == (assigned, "joana")
    linked = make_user(tenant, Role.COLLABORATOR, email="linked@paoquente.test", company=company, name="Lia")
    db.session.add(MachineLink(machine_id=machine.id, user_id=linked.id))
    machine.assigned_user_id = None
    db.session.commit()
    assert device_says("do primeiro vinculado") == (linked.id, "Lia")
    db.session.delete(db.session.get(MachineLink, (machine.id, linked.id)))
    db.session.commit()
    requester = setup.ticket.requester
    assert device_says("do solicitante") == (requester.id, requester.name)
    staff = post_message(setup.ticket, author=agent_user, from_device=False, body="do agente")
    assert (staff.author_id, staff.author_name, staff.from_machine) == (agent_user.id, agent_user.name, False)


def test_a_message_takes_one_pooled_connection_at_a_time(app, chat_device, agent_user):
    """Threads that each hold a connection and wait for a second can empty the pool for good:
    a staff message (its session already open) and a device message never hold two."""
    setup = chat_device()
    setup.start(agent_user)
    held, most = [0], [0]

    def checkout(*args):
        held[0] += 1
        most[0] = max(most[0], held[0])

    def checkin(*args):
        held[0] -= 1

    machine_id, tenant_id, reference = setup.machine.id, setup.ticket.tenant_id, setup.ticket.reference
    ticket_id, agent_id = setup.ticket.id, agent_user.id
    db.session.remove()  # as each frame of a socket starts
    event.listen(db.engine, "checkout", checkout)
    event.listen(db.engine, "checkin", checkin)
    try:
        ticket = ticket_for_machine(machine_id, tenant_id, reference)
        post_message(ticket, author=None, from_device=True, body="do dispositivo")
        db.session.commit()  # the frame's boundary
        db.session.remove()
        staff = db.session.get(User, agent_id)
        ticket = ticket_for_staff(staff, reference)
        post_message(ticket, author=staff, from_device=False, body="do agente")
    finally:
        event.remove(db.engine, "checkout", checkout)
        event.remove(db.engine, "checkin", checkin)
    assert most[0] == 1
    assert [m.body for m in messages_after(ticket_id, 0)] == ["do dispositivo", "do agente"]


def test_no_message_without_an_active_session_and_bodies_are_checked(chat_device, agent_user):
    setup = chat_device()
    with pytest.raises(DomainError) as no_session:
        post_message(setup.ticket, author=None, from_device=True, body="alô")
    assert no_session.value.status == 409
    setup.start(agent_user)
    with pytest.raises(DomainError) as too_long:
        post_message(setup.ticket, author=agent_user, from_device=False, body="x" * 4001)
    assert too_long.value.status == 422 and "4000" in too_long.value.message
    with pytest.raises(DomainError):
        post_message(setup.ticket, author=agent_user, from_device=False, body="   ")
    assert db.session.scalar(select(func.count()).select_from(ChatMessage)) == 0


def test_list_messages_gives_the_newest_window_oldest_first(chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    for n in range(1, 8):
        post_message(setup.ticket, author=agent_user, from_device=False, body=f"m{n}")
    assert [m.body for m in list_messages(setup.ticket, limit=3)] == ["m5", "m6", "m7"]
    assert [m.seq for m in list_messages(setup.ticket, since=5)] == [6, 7]
    assert len(list_messages(setup.ticket, limit=10_000)) == 7  # capped at 200, never unbounded


def test_files_are_checked_by_extension_type_content_and_size(chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    post = post_message
    message = post(
        setup.ticket,
        author=None,
        from_device=True,
        body="",
        files=[
            IncomingFile("tela.png", PNG, "image/png"),
            IncomingFile("planilha.xls", OLE, "application/vnd.ms-excel"),
        ],
    )
    assert [a.filename for a in message.attachments] == ["tela.png", "planilha.xls"]
    refusals = [
        (IncomingFile("tela.png", b"GIF89a not a png", "image/png"), 422),
        (IncomingFile("script.exe", b"MZ", None), 422),
        (IncomingFile("nota.txt", b"ok", "application/x-msdownload"), 422),
        (IncomingFile("grande.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), "application/pdf"), 413),
    ]
    for file, status in refusals:
        with pytest.raises(DomainError) as refused:
            post(setup.ticket, author=agent_user, from_device=False, body="anexo", files=[file])
        assert refused.value.status == status, file.filename
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 2


def test_chat_history_lists_sessions_newest_first_with_their_messages(chat_device, agent_user):
    setup = chat_device()
    setup.start(agent_user)
    post_message(setup.ticket, author=agent_user, from_device=False, body="antiga")
    end_session(agent_user, setup.ticket)
    setup.start(agent_user)
    post_message(setup.ticket, author=None, from_device=True, body="nova")
    history, total = chat_history(setup.ticket)
    assert total == 2
    assert [[m.body for m in h.messages] for h in history] == [["nova"], ["antiga"]]
    assert [h.session.status for h in history] == [ChatSessionStatus.ACTIVE, ChatSessionStatus.ENDED]


def test_auto_end_reasons_and_healthy_sessions_untouched(chat_device, agent_user):
    healthy = chat_device()
    offline = chat_device("financeiro-02", ("SN-002",), ("AA-BB-CC-DD-EE-02",), "ana@paoquente.test")
    idle = chat_device("estoque-03", ("SN-003",), ("AA-BB-CC-DD-EE-03",), "rui@paoquente.test")
    orphan = chat_device("caixa-04", ("SN-004",), ("AA-BB-CC-DD-EE-04",), "lia@paoquente.test")
    sessions = {
        name: s.start(agent_user)
        for name, s in {"healthy": healthy, "offline": offline, "idle": idle, "orphan": orphan}.items()
    }
    now = utcnow()
    _set_last_seen(offline.machine_id, now - timedelta(minutes=6))
    sessions["idle"].last_activity_at = now - timedelta(hours=13)
    orphan.ticket.machine_id = None
    db.session.commit()

    result = auto_end_inactive_sessions(now=now)

    assert (result.ended, result.checked, result.has_more) == (3, 3, False)
    assert result.reasons == {"maquina_offline": 1, "inatividade_chat": 1, "ticket_sem_maquina": 1}
    for name, setup in {"offline": offline, "idle": idle, "orphan": orphan}.items():
        event = _events(setup.ticket, "LIVE_CHAT_ENDED")[0]
        assert (
            event.payload["autoEnded"] is True
            and event.payload["reason"]
            == {
                "offline": "maquina_offline",
                "idle": "inatividade_chat",
                "orphan": "ticket_sem_maquina",
            }[name]
        )
    assert "inactiveForMs" in _events(idle.ticket, "LIVE_CHAT_ENDED")[0].payload
    db.session.refresh(sessions["healthy"])
    assert sessions["healthy"].status == ChatSessionStatus.ACTIVE
    assert auto_end_inactive_sessions(now=now).ended == 0


def test_auto_end_works_in_bounded_batches_and_reports_more(chat_device, agent_user):
    setups = [
        chat_device(f"pc-{n}", (f"SN-10{n}",), (f"AA-BB-CC-DD-EF-0{n}",), f"p{n}@paoquente.test")
        for n in range(3)
    ]
    for setup in setups:
        setup.start(agent_user)
        _set_last_seen(setup.machine_id, utcnow() - timedelta(hours=1))
    first = auto_end_inactive_sessions(batch=2)
    assert (first.ended, first.has_more) == (2, True)
    second = auto_end_inactive_sessions(batch=2)
    assert (second.ended, second.has_more) == (1, False)


def test_heartbeat_tells_the_device_about_its_chats(chat_device, agent_user):
    setup = chat_device()
    assert setup.heartbeat()["chat"] == {"activeSessions": 0, "unread": 0, "sessions": []}
    setup.start(agent_user)
    post_message(setup.ticket, author=agent_user, from_device=False, body="Oi")
    state = setup.heartbeat()["chat"]
    assert state["activeSessions"] == 1 and state["unread"] == 1
    assert state["sessions"][0]["ticket"] == setup.ticket.reference and state["sessions"][0]["lastId"] == 1


def test_timeline_describes_chat_events(chat_device, agent_user):
    from app.services.timeline import describe_event

    setup = chat_device()
    setup.start(agent_user)
    end_session(agent_user, setup.ticket)
    texts = [describe_event(e) for e in _events(setup.ticket, "LIVE_CHAT_STARTED")]
    texts += [describe_event(e) for e in _events(setup.ticket, "LIVE_CHAT_ENDED")]
    assert texts[0] == f"Chat ao vivo iniciado por {agent_user.name} com recepcao-01"
    assert texts[1].startswith(f"Chat ao vivo encerrado por {agent_user.name} (duração 0 min")
