"""Auditoria page and its CSV export."""

from app.extensions import db
from app.services import audit


def seed(admin_user, agent_user):
    audit.record(
        "login.sucesso", actor=admin_user, target=admin_user, target_type="usuário", target_label="um"
    )
    audit.record(
        "empresa.alterar",
        actor=admin_user,
        target_type="empresa",
        target_label="=HYPERLINK()",
        changes={"name": ["Antiga", "Nova"]},
    )
    audit.record(
        "login.falha", actor=None, target=agent_user, target_type="usuário", target_label="agente@acme.test"
    )
    db.session.commit()


def test_admins_see_the_log_newest_first(admin_client, admin_user, agent_user):
    seed(admin_user, agent_user)
    page = admin_client.get("/admin/auditoria").get_data(as_text=True)
    assert "Auditoria" in page and "Empresa alterada" in page and "nome: Antiga → Nova" in page
    table = page[page.index('id="audit-table"') :]
    assert table.index("Login recusado") < table.index("Empresa alterada")


def test_filters_return_a_fragment_for_htmx(admin_client, admin_user, agent_user):
    seed(admin_user, agent_user)
    response = admin_client.get(
        "/admin/auditoria?acao=login.falha", headers={"HX-Request": "true", "HX-Target": "audit-results"}
    )
    html = response.get_data(as_text=True)
    assert "<html" not in html and "agente@acme.test" in html and "Empresa alterada" not in html


def test_a_bad_date_is_a_clear_400(admin_client):
    response = admin_client.get("/admin/auditoria?de=31/12/2026")
    assert response.status_code == 400
    assert "Data inicial inválida (use AAAA-MM-DD)." in response.get_data(as_text=True)


def test_only_admins_open_it(agent_client):
    assert agent_client.get("/admin/auditoria").status_code == 403
    assert agent_client.get("/admin/auditoria.csv").status_code == 403


def test_csv_export_streams_the_filtered_log(admin_client, admin_user, agent_user):
    seed(admin_user, agent_user)
    # buffered: the stream is read inside the request's own context, as a server does.
    response = admin_client.get(f"/admin/auditoria.csv?ator={admin_user.id}&alvo=HYPERLINK", buffered=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="auditoria.csv"'
    text = response.get_data(as_text=True)
    lines = text.lstrip("\ufeff").splitlines()
    assert text.startswith("\ufeff")
    assert lines[0] == "Data/hora;Responsável;Ação;Alvo;Identificador;Alterações;IP"
    assert len(lines) == 2 and "agente@acme.test" not in text
    assert lines[1].split(";")[1:4] == ["admin@acme.test", "Empresa alterada", "empresa =HYPERLINK()"]

    # What someone typed at the login page must not run as a spreadsheet formula.
    audit.record("login.falha", actor=None, target=admin_user, target_type="usuário", target_label="=1+1")
    db.session.commit()
    typed = admin_client.get("/admin/auditoria.csv?acao=login.falha", buffered=True).get_data(as_text=True)
    assert ";'=1+1;" in typed and ";=1+1;" not in typed


def test_changes_read_in_portuguese_without_python_values(admin_client, admin_user, agent_user, app):
    """A failed sign-in, a deactivated person, lists: never None, True, False or a list's repr."""
    from tests.conftest import login

    login(app.test_client(), agent_user.email, "senha-errada")
    audit.record(
        "usuário.alterar",
        actor=admin_user,
        target=agent_user,
        target_type="usuário",
        target_label=agent_user.email,
        changes={"is_active": [True, False], "role": ["agent", "admin"], "mac_addresses": [[], ["AA", "BB"]]},
    )
    db.session.commit()
    page = admin_client.get("/admin/auditoria").get_data(as_text=True)
    table = page[page.index('id="audit-table"') :]
    assert "motivo: — → senha inválida" in table
    assert "ativo: sim → não" in table and "papel: Agente → Administrador" in table
    assert "endereços MAC: — → AA, BB" in table
    for python in ("None", "True", "False", "['"):
        assert python not in table
    csv = admin_client.get("/admin/auditoria.csv", buffered=True).get_data(as_text=True)
    assert "motivo: — → senha inválida" in csv and "None" not in csv
