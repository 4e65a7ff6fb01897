"""Last-seen times written behind: a heartbeat notes, a flush writes them in one batch."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.devices import presence
from app.extensions import db
from app.models import MachinePresence
from app.models.types import utcnow


def _last_seen(app, machine_id):
    with app.app_context():
        return db.session.scalar(
            select(MachinePresence.last_seen_at).where(MachinePresence.machine_id == machine_id)
        )


@pytest.fixture
def buffered_app(make_app):
    """An app whose flusher never fires by itself (the tests flush), in-process notes."""
    built = []

    def build(**env):
        application = make_app(PRESENCE_FLUSH_SECONDS="3600", **env)
        built.append(application)
        return application

    yield build
    for application in built:
        flusher = application.extensions.get("chamados_presence")
        if flusher is not None:
            flusher.stop()


def _beat(application, auth):
    response = application.test_client().post(
        "/api/machines/heartbeat", json={"metrics": {"cpuPercent": 3}}, headers=auth
    )
    assert response.status_code == 200


def _seen_a_minute_ago(machine_id):
    """The device was last seen a minute ago and sampled just now (no metric sample
    is due, so the next heartbeat only notes its time)."""
    row = db.session.get(MachinePresence, machine_id)
    row.last_seen_at, row.last_sample_at = utcnow() - timedelta(seconds=60), utcnow()
    db.session.commit()
    return row.last_seen_at


def test_heartbeats_only_note_the_time_until_the_flush_writes_it(app, buffered_app, register_device):
    body, auth = register_device()
    machine_id = body["machineId"]
    old = _seen_a_minute_ago(machine_id)

    buffered = buffered_app()
    for _ in range(3):
        _beat(buffered, auth)
    assert _last_seen(app, machine_id) == old  # nothing written yet

    with buffered.app_context():
        assert presence.flush_pending() == 1  # three beats, one row written
    assert _last_seen(app, machine_id) > old
    with buffered.app_context():
        assert presence.flush_pending() == 0  # nothing left


def test_a_flush_never_moves_a_last_seen_time_backwards(app, buffered_app, register_device):
    body, _ = register_device()
    machine_id = body["machineId"]
    newer = utcnow()
    db.session.get(MachinePresence, machine_id).last_seen_at = newer
    db.session.commit()
    buffered = buffered_app()
    with buffered.app_context():
        presence.flusher_for(buffered).note(machine_id, newer - timedelta(seconds=30))
        presence.flush_pending()
    assert _last_seen(app, machine_id) == newer


def test_a_flush_inserts_missing_rows_and_skips_deleted_devices(app, buffered_app, make_machine):
    machine = make_machine()
    gone = make_machine(hostname="pc-apagado")
    gone_id = gone.id
    db.session.delete(gone)
    db.session.commit()
    seen = utcnow()
    buffered = buffered_app()
    with buffered.app_context():
        flusher = presence.flusher_for(buffered)
        flusher.note(machine.id, seen)
        flusher.note(gone_id, seen)
        assert presence.flush_pending() == 1
    assert _last_seen(app, machine.id) == seen
    assert _last_seen(app, gone_id) is None


def test_a_failed_flush_keeps_the_notes_for_the_next_one(app, buffered_app, make_machine, monkeypatch):
    machine = make_machine()
    seen = utcnow()
    buffered = buffered_app()
    real_write = presence.write_presence

    def database_down(connection, noted):
        raise ConnectionError("database unavailable")

    with buffered.app_context():
        presence.flusher_for(buffered).note(machine.id, seen)
        monkeypatch.setattr(presence, "write_presence", database_down)
        assert presence.flush_pending() == 0
        monkeypatch.setattr(presence, "write_presence", real_write)
        assert presence.flush_pending() == 1
    assert _last_seen(app, machine.id) == seen


def test_zero_seconds_writes_in_the_heartbeats_own_transaction(app, register_device):
    assert app.config["PRESENCE_FLUSH_SECONDS"] == 0  # the test default
    body, auth = register_device()
    old = _seen_a_minute_ago(body["machineId"])
    _beat(app, auth)
    assert _last_seen(app, body["machineId"]) > old


def test_each_process_flushes_its_own_notes_even_with_redis(app, buffered_app, register_device):
    """Two web processes: the notes never cross processes, and need not (readers read the database)."""
    first, first_auth = register_device(hostname="pc-a", serials=("SN-A",), macs=("AA-AA-AA-AA-AA-01",))
    second, second_auth = register_device(
        hostname="pc-b", serials=("SN-B",), macs=("AA-AA-AA-AA-AA-02",), email="outra@paoquente.test"
    )
    olds = {body["machineId"]: _seen_a_minute_ago(body["machineId"]) for body in (first, second)}
    process_a, process_b = buffered_app(), buffered_app()
    _beat(process_a, first_auth)
    _beat(process_b, second_auth)
    with process_a.app_context():
        assert presence.flush_pending() == 1
    assert _last_seen(app, first["machineId"]) > olds[first["machineId"]]
    assert _last_seen(app, second["machineId"]) == olds[second["machineId"]]  # B has not flushed yet
    process_b.extensions["chamados_presence"].stop()  # B exits: its last notes are written
    assert _last_seen(app, second["machineId"]) > olds[second["machineId"]]
