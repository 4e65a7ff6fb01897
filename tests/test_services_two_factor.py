"""Two-factor sign-in (app/services/two_factor.py): the sealed secret, enrolment, codes good
once, recovery codes, turning it off, and the tenant's requirement."""

import time

import pyotp
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, RecoveryCode, Role
from app.services import two_factor
from app.services.errors import Conflict, FieldErrors, PermissionDenied, ValidationError
from tests.conftest import PASSWORD, make_user


def enrol(user) -> tuple[str, list[str]]:
    """Turn the second factor on as the enrolment page does; (the secret, the recovery codes)."""
    secret = two_factor.new_secret()
    return secret, two_factor.enable(user, secret, pyotp.TOTP(secret).now())


def next_code(secret: str) -> str:
    """The code of the next time step: still inside the accepted window, and not used yet."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def actions() -> list[str]:
    return db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()


def test_the_secret_is_stored_encrypted_and_only_this_secret_key_reads_it(app, agent_user):
    secret, _ = enrol(agent_user)
    stored = agent_user.totp_secret
    assert secret not in stored and len(stored) <= 255
    assert two_factor.unseal(stored) == secret
    original = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "another-secret-key-" + "y" * 32
    try:
        assert two_factor.unseal(stored) is None
    finally:
        app.config["SECRET_KEY"] = original
    assert two_factor.unseal("not a fernet token") is None


def test_enrolment_needs_the_apps_code_and_hands_out_ten_recovery_codes(agent_user):
    secret = two_factor.new_secret()
    with pytest.raises(ValidationError) as refused:
        two_factor.enable(agent_user, secret, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert refused.value.field == "code" and "Código incorreto" in refused.value.message
    assert not agent_user.has_two_factor

    codes = two_factor.enable(agent_user, secret, pyotp.TOTP(secret).now())
    assert agent_user.has_two_factor and len(codes) == 10 == len(set(codes))
    assert all(len(code) == 14 and code.count("-") == 2 for code in codes)
    stored = db.session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == agent_user.id)
    ).all()
    assert len(stored) == 10 and not set(stored) & set(codes) and all(len(h) == 64 for h in stored)
    assert two_factor.remaining_recovery_codes(agent_user) == 10
    assert actions() == ["2fa.ativada"]
    with pytest.raises(Conflict):
        two_factor.enable(agent_user, secret, next_code(secret))


def test_collaborators_do_not_enrol(collaborator):
    secret = two_factor.new_secret()
    with pytest.raises(PermissionDenied):
        two_factor.enable(collaborator, secret, pyotp.TOTP(secret).now())


def test_an_app_code_is_good_once(agent_user):
    secret, _ = enrol(agent_user)
    # The code that confirmed the enrolment cannot sign in afterwards.
    assert two_factor.check_code(agent_user, pyotp.TOTP(secret).now()) is None
    code = next_code(secret)
    assert two_factor.check_code(agent_user, code) == "app"
    db.session.commit()
    assert two_factor.check_code(agent_user, code) is None
    assert two_factor.check_code(agent_user, "12345") is None
    assert two_factor.check_code(agent_user, "") is None
    assert two_factor.check_code(agent_user, "x" * 100_000) is None


def test_a_recovery_code_is_good_once_however_it_is_typed(agent_user):
    _, codes = enrol(agent_user)
    typed = f"  {codes[0].upper().replace('-', ' ')} "
    assert two_factor.check_code(agent_user, typed) == "recovery"
    db.session.commit()
    assert two_factor.check_code(agent_user, codes[0]) is None
    assert two_factor.remaining_recovery_codes(agent_user) == 9
    assert two_factor.check_code(agent_user, codes[1], recovery=False) is None


def test_nobody_without_a_second_factor_passes_a_code(agent_user):
    assert two_factor.check_code(agent_user, "123456") is None


def test_turning_it_off_yourself_needs_the_password_and_a_code(agent_user):
    secret, codes = enrol(agent_user)
    with pytest.raises(FieldErrors) as refused:
        two_factor.disable(agent_user, actor=agent_user, password="errada", code=next_code(secret))
    assert refused.value.errors == {"password": "Senha incorreta."}
    with pytest.raises(FieldErrors) as refused:
        two_factor.disable(agent_user, actor=agent_user, password=PASSWORD, code="000000x")
    assert set(refused.value.errors) == {"code"}
    assert agent_user.has_two_factor
    two_factor.disable(agent_user, actor=agent_user, password=PASSWORD, code=codes[3])
    assert not agent_user.has_two_factor and agent_user.totp_secret is None
    assert db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == agent_user.id)).all() == []
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "2fa.desativada"))
    assert row.changes == {"por": [None, "o próprio usuário"]}
    with pytest.raises(Conflict):
        two_factor.disable(agent_user, actor=agent_user, password=PASSWORD, code=codes[4])


def test_an_admin_turns_off_someone_elses_second_factor_an_agent_cannot(tenant, agent_user, admin_user):
    enrol(agent_user)
    colleague = make_user(tenant, Role.AGENT)
    with pytest.raises(PermissionDenied):
        two_factor.disable(agent_user, actor=colleague)
    two_factor.disable(agent_user, actor=admin_user)
    assert not agent_user.has_two_factor
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "2fa.desativada"))
    assert row.actor_id == admin_user.id and row.target_id == agent_user.id
    assert row.changes == {"por": [None, "administrador admin@acme.test"]}


def test_new_recovery_codes_replace_the_old_ones(agent_user):
    secret, old = enrol(agent_user)
    with pytest.raises(ValidationError):
        two_factor.regenerate_recovery_codes(agent_user, old[0])  # a recovery code is not enough here
    new = two_factor.regenerate_recovery_codes(agent_user, next_code(secret))
    assert len(new) == 10 and not set(new) & set(old)
    assert two_factor.check_code(agent_user, old[1]) is None
    assert two_factor.check_code(agent_user, new[1]) == "recovery"
    assert "2fa.códigos_gerados" in actions()


def test_who_must_enrol(tenant, company, agent_user, admin_user, collaborator):
    assert not two_factor.enrolment_required(agent_user)
    with pytest.raises(ValidationError) as refused:
        two_factor.set_requirement(tenant, True, actor=admin_user)
    assert "própria conta" in refused.value.message and not tenant.require_two_factor
    enrol(admin_user)
    assert two_factor.set_requirement(tenant, True, actor=admin_user) is True
    assert two_factor.set_requirement(tenant, True, actor=admin_user) is False
    assert two_factor.enrolment_required(agent_user)
    assert not two_factor.enrolment_required(admin_user)  # has one
    assert not two_factor.enrolment_required(collaborator)  # not staff
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "2fa.exigência"))
    assert row.changes == {"exigir da equipe": ["não", "sim"]} and row.target_type == "configurações"
    assert two_factor.set_requirement(tenant, False, actor=admin_user) is True
    assert not two_factor.enrolment_required(agent_user)


def test_the_qr_code_is_an_svg_data_uri_of_the_otpauth_address(agent_user):
    secret = two_factor.new_secret()
    uri = two_factor.provisioning_uri(agent_user, secret)
    assert uri.startswith("otpauth://totp/Chamados:") and f"secret={secret}" in uri
    assert two_factor.qr_code_data_uri(uri).startswith("data:image/svg+xml")
    assert two_factor.grouped("ABCDEFGHIJ") == "ABCD EFGH IJ"


def test_the_staff_overview_lists_those_without_a_second_factor_first(
    tenant, company, agent_user, admin_user, collaborator
):
    enrol(admin_user)
    people = two_factor.staff_overview()
    assert [p.id for p in people] == [agent_user.id, admin_user.id]
