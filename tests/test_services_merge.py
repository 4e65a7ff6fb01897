"""Account merge: everything moves to the survivor in one transaction; the old e-mail still signs in."""

import pytest
from sqlalchemy import func, select

from app.devices.people import person_for_device
from app.extensions import db
from app.models import (
    AuditLog,
    ChatMessage,
    Comment,
    LiveChatSession,
    Machine,
    MachineLink,
    Role,
    SavedView,
    Ticket,
    TicketEvent,
    User,
    UserAlias,
)
from app.services import merge as merge_service
from app.services.auth import authenticate
from app.services.errors import ValidationError
from app.services.passwords import hash_password
from app.services.tickets import add_comment
from app.services.transaction import committed
from tests.conftest import PASSWORD, make_user


@pytest.fixture
def people(tenant, company):
    old = make_user(tenant, role=Role.COLLABORATOR, email="carla@antigo.test", company=company, name="Carla")
    new = make_user(tenant, role=Role.COLLABORATOR, email="carla@novo.test", company=company, name="Carla")
    new.password_hash = hash_password("senha-da-nova-1")
    db.session.commit()
    return old, new


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return db.session.scalar(query)


def seed_history(old, make_ticket, make_machine, agent_user):
    ticket = make_ticket("Impressora parada", requester=old)
    add_comment(ticket, old, "<p>Continua parada</p>")
    shared = make_machine("pc-compartilhado")
    own = make_machine("notebook-carla", assigned_user_id=old.id)
    db.session.add_all(
        [
            MachineLink(machine_id=shared.id, user_id=old.id),
            SavedView(user_id=old.id, name="Minhas", query="status=PENDING"),
            LiveChatSession(
                tenant_id=old.tenant_id,
                ticket_id=ticket.id,
                machine_id=own.id,
                agent_id=agent_user.id,
                agent_name=agent_user.name,
            ),
        ]
    )
    db.session.flush()
    session = db.session.scalar(select(LiveChatSession))
    db.session.add(
        ChatMessage(
            tenant_id=old.tenant_id,
            session_id=session.id,
            ticket_id=ticket.id,
            seq=1,
            author_id=old.id,
            author_name=old.name,
            body="oi",
        )
    )
    db.session.commit()
    return ticket, shared, own


def test_every_schema_reference_to_users_is_handled():
    handled = {(model.__table__.name, column) for model, column, _ in merge_service.REFERENCES}
    handled |= {(model.__table__.name, column) for model, column in merge_service.NOT_MOVED}
    handled |= {(model.__table__.name, column) for model, column in merge_service.DELETED}
    in_schema = {
        (table.name, fk.parent.name)
        for table in db.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "users"
    }
    assert in_schema == handled


def test_preview_counts_what_will_move(people, make_ticket, make_machine, agent_user):
    old, new = people
    seed_history(old, make_ticket, make_machine, agent_user)
    summary = dict(merge_service.preview(old, new).counts)
    assert summary["Chamados abertos (solicitante)"] == 1
    assert summary["Comentários"] == 1
    assert summary["Dispositivos (usuário vinculado)"] == 1
    assert summary["Dispositivos (usuários vinculados)"] == 1
    assert summary["Mensagens de chat"] == 1
    assert summary["Visões salvas"] == 1
    assert count(Ticket, requester_id=new.id) == 0  # a preview changes nothing


def test_merge_moves_everything_and_the_old_email_signs_in_to_the_survivor(
    people, make_ticket, make_machine, agent_user, admin_user
):
    old, new = people
    ticket, shared, own = seed_history(old, make_ticket, make_machine, agent_user)
    old_id = old.id
    merge_service.merge(old, new, actor=admin_user)

    for model, column, _ in merge_service.REFERENCES:
        if model is not AuditLog:
            assert count(model, **{column: old_id}) == 0, (model, column)
    assert db.session.get(Ticket, ticket.id).requester_id == new.id
    assert count(Comment, author_id=new.id) == 1 and count(ChatMessage, author_id=new.id) == 1
    assert count(TicketEvent, actor_id=new.id) >= 1
    assert db.session.get(Machine, own.id).assigned_user_id == new.id
    assert db.session.get(MachineLink, (shared.id, new.id)) is not None
    merged = db.session.get(User, old_id)
    assert (merged.is_active, merged.password_hash) == (False, None)
    alias = db.session.scalar(select(UserAlias))
    assert (alias.email, alias.user_id, alias.merged_user_id) == ("carla@antigo.test", new.id, old_id)
    (entry,) = db.session.scalars(select(AuditLog).where(AuditLog.action == "usuário.mesclar")).all()
    assert entry.changes["mesclada"] == ["carla@antigo.test", "carla@novo.test"]

    # The old e-mail signs in, as the survivor, with the survivor's password.
    assert authenticate("carla@antigo.test", "senha-da-nova-1").user.id == new.id
    assert authenticate("carla@antigo.test", PASSWORD).user is None
    # And a device registered with the old e-mail is the survivor's.
    assert person_for_device(own.company, "carla@antigo.test").id == new.id


def test_conflicts_are_resolved_not_lost(people, make_machine, admin_user):
    old, new = people
    machine = make_machine("pc")
    db.session.add_all(
        [
            MachineLink(machine_id=machine.id, user_id=old.id),
            MachineLink(machine_id=machine.id, user_id=new.id),
            SavedView(user_id=old.id, name="Minhas", query="a=1"),
            SavedView(user_id=new.id, name="Minhas", query="b=2"),
        ]
    )
    db.session.commit()
    merge_service.merge(old, new, actor=admin_user)
    assert count(MachineLink, user_id=new.id) == 1
    names = sorted(db.session.scalars(select(SavedView.name).where(SavedView.user_id == new.id)))
    assert names == ["Minhas", "Minhas (conta mesclada)"]


def test_a_failure_in_the_middle_changes_nothing(
    people, make_ticket, make_machine, agent_user, admin_user, monkeypatch
):
    old, new = people
    ticket, _, own = seed_history(old, make_ticket, make_machine, agent_user)
    real_move = merge_service._move
    moved = []

    def failing_move(model, column, old_id, new_id):
        if model is Machine:  # after tickets, comments and chats have moved
            raise RuntimeError("disco cheio")
        moved.append(model)
        real_move(model, column, old_id, new_id)

    monkeypatch.setattr(merge_service, "_move", failing_move)
    with pytest.raises(RuntimeError):
        committed(merge_service.merge)(old, new, actor=admin_user)  # as its request would run it
    assert Ticket in moved and Comment in moved
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).requester_id == old.id
    assert count(Comment, author_id=old.id) == 1
    assert db.session.get(Machine, own.id).assigned_user_id == old.id
    assert db.session.get(User, old.id).is_active is True
    assert count(UserAlias) == 0 and count(AuditLog, action="usuário.mesclar") == 0


def test_refusals(people, admin_user, other_tenant):
    old, new = people
    stranger = make_user(other_tenant, email="x@outra.test")
    for survivor, message in ((old, "nela mesma"), (stranger, "organizações diferentes")):
        with pytest.raises(ValidationError, match=message):
            merge_service.merge(old, survivor, actor=admin_user)
    new.is_active = False
    with pytest.raises(ValidationError, match="precisa estar ativa"):
        merge_service.merge(old, new, actor=admin_user)
    with pytest.raises(ValidationError, match="própria conta"):
        new.is_active = True
        merge_service.merge(admin_user, new, actor=admin_user)
