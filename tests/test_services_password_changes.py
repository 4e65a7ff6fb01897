"""A person's own password changes (app/services/password_changes.py): the "Esqueci a senha"
link (hashed, single use, 1 hour, the newest only, the same answer for any e-mail) and the
change in Minha conta."""

import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, EmailMessage, EmailStatus, PasswordResetToken, Role
from app.models.types import utcnow
from app.services import notifications, password_changes
from app.services.auth import authenticate, load_active_user
from app.services.errors import DomainError, FieldErrors
from tests.conftest import PASSWORD, make_user

NEW_PASSWORD = "uma-senha-nova-456"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def reset_emails(user=None) -> list[EmailMessage]:
    query = select(EmailMessage).where(EmailMessage.kind == "password_reset").order_by(EmailMessage.id)
    if user is not None:
        query = query.where(EmailMessage.recipient_id == user.id)
    return db.session.scalars(query).all()


def token_in(message: EmailMessage) -> str:
    link = re.search(r"https?://\S+/redefinir-senha\?\S+", message.body_text).group(0)
    return parse_qs(urlsplit(link).query)["token"][0]


def test_a_request_stores_only_the_tokens_hash_and_emails_the_link(agent_user):
    password_changes.request_reset(agent_user.email)
    [message] = reset_emails(agent_user)
    token = token_in(message)
    assert message.body_text.startswith("Olá, Artur Agente")
    assert "60 minutos" in message.body_text and token in message.body_html
    assert message.to_address == agent_user.email and message.subject == "Redefinição de senha do Chamados"
    row = db.session.scalar(select(PasswordResetToken))
    assert row.token_hash == password_changes.hash_token(token) != token and len(token) >= 40
    assert row.expires_at - row.created_at == timedelta(hours=1)
    assert message.body_text.count("http://127.0.0.1:5000/redefinir-senha?token=") == 1
    audit = db.session.scalar(select(AuditLog))
    assert audit.action == "senha.redefinição_pedida" and audit.target_id == agent_user.id
    assert audit.actor_id is None and audit.actor_label == agent_user.email


def test_unknown_and_inactive_emails_get_nothing(tenant):
    inactive = make_user(tenant, Role.AGENT, email="saiu@acme.test", active=False)
    password_changes.request_reset("ninguem@acme.test")
    password_changes.request_reset(inactive.email)
    assert count(PasswordResetToken) == 0 and count(EmailMessage) == 0
    assert db.session.scalars(select(AuditLog.action)).all() == ["senha.redefinição_recusada"]


def test_a_newer_request_invalidates_the_older_link(agent_user):
    password_changes.request_reset(agent_user.email)
    password_changes.request_reset(agent_user.email)
    first, second = (token_in(message) for message in reset_emails(agent_user))
    assert password_changes.valid_token(first) is None
    assert password_changes.valid_token(second) is not None
    assert count(PasswordResetToken) == 1


def test_the_link_lasts_one_hour(agent_user):
    password_changes.request_reset(agent_user.email)
    token = token_in(reset_emails(agent_user)[0])
    assert password_changes.valid_token(token, utcnow() + timedelta(minutes=59)) is not None
    assert password_changes.valid_token(token, utcnow() + timedelta(minutes=61)) is None
    with pytest.raises(DomainError) as refused:
        password_changes.reset_password(token, NEW_PASSWORD, NEW_PASSWORD, utcnow() + timedelta(minutes=61))
    assert refused.value.code == "reset_link_invalid"


def test_resetting_sets_the_password_ends_every_session_and_uses_the_link_up(agent_user):
    password_changes.request_reset(agent_user.email)
    token = token_in(reset_emails(agent_user)[0])
    old_session = agent_user.get_id()
    password_changes.reset_password(token, NEW_PASSWORD, NEW_PASSWORD)
    assert authenticate(agent_user.email, NEW_PASSWORD).user.id == agent_user.id
    assert authenticate(agent_user.email, PASSWORD).user is None
    assert load_active_user(old_session) is None
    assert load_active_user(agent_user.get_id()) == agent_user
    assert count(PasswordResetToken) == 0
    with pytest.raises(DomainError):
        password_changes.reset_password(token, "outra-senha-789", "outra-senha-789")
    [changed] = db.session.scalars(select(EmailMessage).where(EmailMessage.kind == "password_changed")).all()
    assert "pelo link de redefinição" in changed.body_text
    assert "senha.redefinida" in db.session.scalars(select(AuditLog.action)).all()


def test_a_refused_new_password_keeps_the_link(agent_user):
    password_changes.request_reset(agent_user.email)
    token = token_in(reset_emails(agent_user)[0])
    with pytest.raises(FieldErrors) as refused:
        password_changes.reset_password(token, "curta", "curta")
    assert refused.value.errors == {"password": "A senha deve ter pelo menos 8 caracteres."}
    with pytest.raises(FieldErrors) as refused:
        password_changes.reset_password(token, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert refused.value.errors == {"password_confirm": "As duas senhas não são iguais."}
    with pytest.raises(FieldErrors) as refused:
        password_changes.reset_password(token, "x" * 257, "x" * 257)
    assert "no máximo 256" in refused.value.errors["password"]
    assert password_changes.valid_token(token) is not None


def test_the_same_email_in_two_tenants_gets_a_link_per_account(tenant, other_tenant):
    ours = make_user(tenant, Role.AGENT, email="dupla@example.com")
    theirs = make_user(other_tenant, Role.AGENT, email="dupla@example.com")
    password_changes.request_reset("dupla@example.com")
    ours_token = token_in(reset_emails(ours)[0])
    assert len(reset_emails(theirs)) == 1
    assert {m.tenant_id for m in reset_emails()} == {tenant.id, other_tenant.id}
    password_changes.reset_password(ours_token, NEW_PASSWORD, NEW_PASSWORD)
    db.session.refresh(theirs)
    assert theirs.session_epoch == 0 and password_changes.valid_token(token_in(reset_emails(theirs)[0]))


def test_one_email_gets_a_few_links_an_hour_whoever_asks(agent_user):
    for _ in range(5):
        password_changes.request_reset(agent_user.email)
    assert len(reset_emails(agent_user)) == 3  # PASSWORD_RESET_EMAIL_RATE_LIMIT


def test_known_and_unknown_emails_take_the_same_least_time(app, agent_user):
    app.config["PASSWORD_RESET_MIN_MS"] = 150
    try:
        for email in (agent_user.email, "ninguem@acme.test"):
            started = time.monotonic()
            password_changes.request_reset(email)
            assert time.monotonic() - started >= 0.15
    finally:
        app.config["PASSWORD_RESET_MIN_MS"] = 0


def test_the_outbox_forgets_the_link_once_it_is_sent(agent_user):
    password_changes.request_reset(agent_user.email)
    token = token_in(reset_emails(agent_user)[0])
    notifications.send_due()  # no SMTP in the tests: written to the log
    [message] = reset_emails(agent_user)
    assert message.status == EmailStatus.SENT
    assert token not in message.body_text and token not in message.body_html
    assert password_changes.valid_token(token) is not None  # the link itself still works


def test_changing_the_password_in_minha_conta(agent_user):
    with pytest.raises(FieldErrors) as refused:
        password_changes.change_password(agent_user, "errada", "curta", "curta")
    assert refused.value.errors == {
        "current_password": "Senha atual incorreta.",
        "password": "A senha deve ter pelo menos 8 caracteres.",
    }
    with pytest.raises(FieldErrors) as refused:
        password_changes.change_password(agent_user, "", NEW_PASSWORD, "outra")
    assert refused.value.errors == {
        "current_password": "Informe a senha atual.",
        "password_confirm": "As duas senhas não são iguais.",
    }
    with pytest.raises(FieldErrors) as refused:
        password_changes.change_password(agent_user, PASSWORD, PASSWORD, PASSWORD)
    assert refused.value.errors == {"password": "A nova senha precisa ser diferente da atual."}
    assert agent_user.session_epoch == 0
    password_changes.change_password(agent_user, PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert agent_user.session_epoch == 1
    assert authenticate(agent_user.email, NEW_PASSWORD).user is not None
    assert db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()[:1] == ["senha.alterada"]
    assert db.session.scalar(select(EmailMessage.kind)) == "password_changed"


def test_an_email_that_is_no_address_is_refused_without_looking(agent_user):
    with pytest.raises(FieldErrors) as refused:
        password_changes.validate_email("não é e-mail")
    assert refused.value.errors == {"email": "Informe um e-mail válido."}
    assert password_changes.validate_email("  AGENTE@acme.test ") == "agente@acme.test"
