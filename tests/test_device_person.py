"""The device's person (the assigned user, else the first linked user) is written twice, in
app/devices/people.py: in Python (`device_person`) and as SQL (`device_person_id`, which the
chat uses to tell the device's messages apart). Both must give the same answer."""

from datetime import timedelta

from sqlalchemy import literal, select

from app.devices.people import device_person, device_person_id
from app.extensions import db
from app.models import MachineLink, Role
from app.models.types import utcnow
from tests.conftest import make_user


def _sql_answer(machine, *otherwise):
    return db.session.scalar(select(device_person_id(machine.id, *otherwise)))


def _python_answer(machine):
    person = device_person(machine)
    return person.id if person is not None else None


def _link(machine, user, at):
    db.session.add(MachineLink(machine_id=machine.id, user_id=user.id, created_at=at))
    db.session.commit()


def test_python_and_sql_agree_on_the_devices_person(tenant, company, make_machine):
    people = [make_user(tenant, Role.COLLABORATOR, company=company) for _ in range(3)]
    first, second, assigned = people
    now = utcnow()
    cases = []

    nobody = make_machine("ninguem")
    cases.append((nobody, None))

    linked = make_machine("vinculados")
    _link(linked, second, now)
    _link(linked, first, now - timedelta(minutes=5))  # linked earlier: first, whatever its id
    cases.append((linked, first.id))

    same_moment = make_machine("mesmo-instante")
    _link(same_moment, second, now)
    _link(same_moment, first, now)
    cases.append((same_moment, min(first.id, second.id)))

    with_assigned = make_machine("atribuido", assigned_user_id=assigned.id)
    _link(with_assigned, first, now - timedelta(days=1))
    cases.append((with_assigned, assigned.id))

    for machine, expected in cases:
        db.session.expire_all()
        assert (_python_answer(machine), _sql_answer(machine)) == (expected, expected), machine.hostname


def test_the_sql_form_falls_back_only_when_nobody_uses_the_device(tenant, company, make_machine):
    user = make_user(tenant, Role.COLLABORATOR, company=company)
    nobody = make_machine("ninguem")
    assigned = make_machine("atribuido", assigned_user_id=user.id)
    assert _sql_answer(nobody, literal(424242)) == 424242
    assert _sql_answer(assigned, literal(424242)) == user.id
