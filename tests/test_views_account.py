"""Minha conta (app/views/account.py): changing the password, the second factor (enrolment,
recovery codes, turning it off) and the gate that sends staff to enrol when the team requires it."""

import re
import time

import pyotp
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog
from app.services import two_factor
from tests.conftest import PASSWORD, csrf_token_from, demo_client, logged_in_client, login

NEW_PASSWORD = "uma-senha-nova-456"
SECRET_SHOWN = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')


def change(client, current, new, confirm):
    return client.post(
        "/minha-conta/senha",
        data={"current_password": current, "password": new, "password_confirm": confirm},
    )


def audit_actions() -> list[str]:
    return db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()


def enrol_through_the_page(client) -> tuple[str, str]:
    """Open the enrolment page, read the secret it shows, confirm with the app's code: (secret, page)."""
    page = client.get("/minha-conta/duas-etapas").get_data(as_text=True)
    secret = SECRET_SHOWN.search(page).group(1).replace(" ", "")
    done = client.post("/minha-conta/duas-etapas", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.get_data(as_text=True)
    return secret, done.get_data(as_text=True)


def test_minha_conta_offers_the_password_and_for_staff_the_second_factor(app, agent_client, collaborator):
    html = agent_client.get("/minha-conta").get_data(as_text=True)
    assert "Alterar senha" in html and "Verificação em duas etapas" in html
    assert "Ativar verificação em duas etapas" in html
    portal = logged_in_client(app, collaborator).get("/minha-conta").get_data(as_text=True)
    assert "Alterar senha" in portal and "Verificação em duas etapas" not in portal


def test_a_refused_change_says_what_is_wrong_with_each_field_and_keeps_nothing(agent_client):
    response = change(agent_client, "errada-123", "curta", "outra")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Senha atual incorreta." in html and "A senha deve ter pelo menos 8 caracteres." in html
    assert "errada-123" not in html and "curta" not in html.replace("curtas", "")
    mismatch = change(agent_client, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert mismatch.status_code == 422 and "As duas senhas não são iguais." in mismatch.get_data(as_text=True)
    assert audit_actions() == ["login.sucesso"]


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, agent_user):
    this = logged_in_client(app, agent_user)
    other = logged_in_client(app, agent_user)
    remembered = app.test_client()
    login(remembered, agent_user, remember="1")
    response = change(this, PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/minha-conta"
    assert "Senha alterada." in this.get("/minha-conta").get_data(as_text=True)
    assert this.get("/").status_code == 200
    assert other.get("/").status_code == 302
    remembered.delete_cookie("session")  # what a browser reopened days later sends: the remember cookie
    assert remembered.get("/").status_code == 302
    # One audit row says it, no "usuário alterado" beside it; the person is told by e-mail.
    assert audit_actions()[-1] == "senha.alterada" and "usuário.alterar" not in audit_actions()
    assert login(app.test_client(), agent_user, password=NEW_PASSWORD).status_code == 302


def test_a_remembered_session_stays_remembered_after_the_change(app, agent_user):
    client = app.test_client()
    login(client, agent_user, remember="1")
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token_from(client, "/minha-conta")
    change(client, PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    client.delete_cookie("session")
    assert client.get("/").status_code == 200


def test_a_device_session_cannot_change_the_password(app, demo):
    client = demo_client(app, "device")
    html = client.get("/minha-conta").get_data(as_text=True)
    assert "Alterar senha" not in html
    token = csrf_token_from(client, "/portal")
    response = client.post(
        "/minha-conta/senha",
        data={
            "current_password": "x",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 403


def test_enrolling_shows_the_qr_code_once_then_ten_recovery_codes(agent_client, agent_user):
    page = agent_client.get("/minha-conta/duas-etapas")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert 'src="data:image/svg+xml' in html and "Código QR" in html
    # Reloading shows the same secret (the app may have read it already).
    assert SECRET_SHOWN.search(html).group(1) in agent_client.get("/minha-conta/duas-etapas").get_data(
        as_text=True
    )

    wrong = agent_client.post("/minha-conta/duas-etapas", data={"code": "12345x"})
    assert wrong.status_code == 422 and "Código incorreto" in wrong.get_data(as_text=True)
    assert SECRET_SHOWN.search(html).group(1) in wrong.get_data(as_text=True)

    secret, codes_page = enrol_through_the_page(agent_client)
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", codes_page)
    assert len(codes) == 10 and "não serão mostrados de novo" in codes_page
    db.session.refresh(agent_user)
    assert agent_user.has_two_factor and two_factor.unseal(agent_user.totp_secret) == secret
    # The secret is never shown again.
    assert agent_client.get("/minha-conta/duas-etapas").headers["Location"] == "/minha-conta#two-factor"
    account = agent_client.get("/minha-conta").get_data(as_text=True)
    assert secret not in account and "Ativa" in account and "<strong>10</strong> de 10" in account
    assert audit_actions()[-1] == "2fa.ativada" and "usuário.alterar" not in audit_actions()


def test_collaborators_have_no_enrolment_page(app, collaborator):
    client = logged_in_client(app, collaborator)
    assert client.get("/minha-conta/duas-etapas").status_code == 302
    assert client.post("/minha-conta/duas-etapas", data={"code": "123456"}).status_code == 403


def test_new_recovery_codes_and_turning_it_off(agent_client, agent_user):
    secret, _ = enrol_through_the_page(agent_client)
    following = pyotp.TOTP(secret).at(time.time() + 30)
    refused = agent_client.post("/minha-conta/duas-etapas/codigos", data={"code": "000000x"})
    assert refused.status_code == 422 and "Código incorreto" in refused.get_data(as_text=True)
    fresh = agent_client.post("/minha-conta/duas-etapas/codigos", data={"code": following})
    assert fresh.status_code == 200 and "Novos códigos de recuperação" in fresh.get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", fresh.get_data(as_text=True))

    wrong = agent_client.post(
        "/minha-conta/duas-etapas/desativar", data={"password": "errada", "code": codes[0]}
    )
    assert wrong.status_code == 422 and "Senha incorreta." in wrong.get_data(as_text=True)
    off = agent_client.post(
        "/minha-conta/duas-etapas/desativar", data={"password": PASSWORD, "code": codes[0]}
    )
    assert off.status_code == 302
    assert "Verificação em duas etapas desativada." in agent_client.get("/minha-conta").get_data(as_text=True)
    db.session.refresh(agent_user)
    assert not agent_user.has_two_factor
    assert audit_actions()[-2:] == ["2fa.códigos_gerados", "2fa.desativada"]


# --- the team's requirement ------------------------------------------------------------------


def require_two_factor(tenant):
    tenant.require_two_factor = True
    db.session.commit()


def enrolling_client(app, user):
    """Signed in while enrolment is due: the CSRF token comes from the enrolment page."""
    client = app.test_client()
    assert login(client, user).status_code == 302
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token_from(client, "/minha-conta/duas-etapas")
    return client


def test_staff_without_a_second_factor_must_enrol_before_anything_else(app, tenant, agent_user, collaborator):
    require_two_factor(tenant)
    client = enrolling_client(app, agent_user)
    for path in ("/", "/chamados", "/minha-conta", "/dispositivos"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/minha-conta/duas-etapas", (
            path
        )
    page = client.get("/minha-conta/duas-etapas").get_data(as_text=True)
    assert "Sua equipe exige a verificação em duas etapas" in page
    assert 'aria-label="Navegação principal"' not in page and "chat-widget" not in page
    assert "Encerrar sessão" in page
    fragment = client.get("/chamados", headers={"HX-Request": "true"})
    assert fragment.status_code == 204 and fragment.headers["HX-Redirect"] == "/minha-conta/duas-etapas"
    api = client.get("/chamados", headers={"Accept": "application/json"})
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "two_factor_required"
    # Collaborators are not asked.
    assert logged_in_client(app, collaborator).get("/portal").status_code == 200

    enrol_through_the_page(client)
    assert client.get("/").status_code == 200


def test_signing_out_stays_possible_while_enrolment_is_due(app, tenant, agent_user):
    require_two_factor(tenant)
    client = enrolling_client(app, agent_user)
    assert client.post("/logout").headers["Location"] == "/login"
