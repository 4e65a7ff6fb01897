from app.extensions import db
from app.models import Role
from app.services.auth import INACTIVE_ACCOUNT, INVALID_CREDENTIALS, authenticate, load_active_user
from tests.conftest import PASSWORD, make_user


def test_right_password_logs_in_and_records_the_time(agent_user):
    result = authenticate("AGENTE@acme.test ", PASSWORD)
    assert result.user.id == agent_user.id and result.error is None
    assert agent_user.last_login_at is not None


def test_wrong_password_and_unknown_email_give_the_same_message(agent_user):
    assert authenticate(agent_user.email, "errada").error == INVALID_CREDENTIALS
    assert authenticate("ninguem@acme.test", PASSWORD).error == INVALID_CREDENTIALS


def test_inactive_user_is_refused(tenant):
    user = make_user(tenant, Role.AGENT, active=False)
    result = authenticate(user.email, PASSWORD)
    assert result.user is None and result.error == INACTIVE_ACCOUNT


def test_same_email_in_two_tenants_logs_into_the_one_whose_password_matches(tenant, other_tenant):
    make_user(tenant, Role.AGENT, email="dupla@example.com")
    other = make_user(other_tenant, Role.AGENT, email="dupla@example.com")
    from app.services.passwords import hash_password

    other.password_hash = hash_password("outra-senha-123")
    db.session.commit()
    assert authenticate("dupla@example.com", "outra-senha-123").user.id == other.id


def test_session_loader_drops_deactivated_users(agent_user):
    assert load_active_user(str(agent_user.id)) == agent_user
    agent_user.is_active = False
    db.session.commit()
    assert load_active_user(str(agent_user.id)) is None
    assert load_active_user("not-a-number") is None
