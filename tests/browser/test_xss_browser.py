"""Names that try to be script, in a real browser under the Content-Security-Policy.

A queue, a company, a person, a device, a saved view and a ticket are named with a payload that
breaks out of a JavaScript string (the old onsubmit="confirm('…{{ name }}…')" of Filas ran it) and
out of HTML. Every staff page showing them and the collaborator's portal are opened in Chromium:
no dialog but the expected confirmations, no CSP violation, no script error, the payload shown as
text. The confirmations are answered both ways and show the payload as plain text.
"""

import re
from pathlib import Path

from markupsafe import escape
from playwright.sync_api import expect

from app.extensions import db
from app.models import Company, Role, SavedView, Ticket
from app.services import companies, queues, saved_views, tickets, users
from tests.conftest import PASSWORD, browser_login

PAYLOAD = "x');alert(1);//<img src=x onerror=alert(2)>"
# E-mail addresses cannot hold spaces, but may hold quotes and brackets.
EMAIL_PAYLOAD = "x');alert(1);//<i>@xss.test"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


class Watch:
    """Records what a page does that it should not: dialogs, CSP reports, script errors."""

    def __init__(self, page):
        self.page = page
        self.dialogs: list[tuple[str, str]] = []
        self.csp: list[str] = []
        self.errors: list[str] = []
        self.answer: bool | None = None  # how to answer the next confirm (None: not expected)
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog):
        self.dialogs.append((dialog.type, dialog.message))
        if dialog.type == "confirm" and self.answer is not None:
            answer, self.answer = self.answer, None
            dialog.accept() if answer else dialog.dismiss()
        else:
            dialog.dismiss()

    def _console(self, message):
        if "Content Security Policy" in message.text or "Permissions-Policy" in message.text:
            self.csp.append(message.text)

    def open(self, path):
        response = self.page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self';" in response.headers["content-security-policy"]
        self.check(path)

    def confirm(self, button, accept: bool) -> str:
        """Click a confirmation-guarded button, answer it, and return the question asked."""
        before = len(self.dialogs)
        self.answer = accept
        button.click()
        self.page.wait_for_load_state()
        assert self.answer is None, "no confirmation was asked"
        assert len(self.dialogs) == before + 1, self.dialogs[before:]
        kind, message = self.dialogs[-1]
        assert kind == "confirm"
        return message

    def check(self, where):
        self.page.wait_for_load_state()
        assert self.csp == [], (where, self.csp)
        assert self.errors == [], (where, self.errors)
        assert [d for d in self.dialogs if d[0] != "confirm"] == [], (where, self.dialogs)
        # The payload's <img> never became an element.
        assert self.page.locator('img[src="x"]').count() == 0, where


def _named_world(tenant, admin_user, register_device):
    """Everything named with the payload, made through the services (and the device API)."""
    queues.ensure_default_queues()
    queue = queues.create_queue(tenant.id, PAYLOAD)
    empty_queue = queues.create_queue(tenant.id, PAYLOAD + " (vazia)")
    company = companies.create_company(tenant.id, name=PAYLOAD, apelido="xss-empresa")
    # The apelido rule (lowercase letters, digits, hyphens) refuses the payload; a row that
    # bypassed it (an old import, a hand edit) must still render as text.
    company.apelido = PAYLOAD
    db.session.commit()
    person = users.create_user(
        tenant_id=tenant.id,
        email="colab@xss.test",
        name=PAYLOAD,
        role=Role.COLLABORATOR,
        company_id=company.id,
        password=PASSWORD,
    )
    duplicate = users.create_user(
        tenant_id=tenant.id,
        email=EMAIL_PAYLOAD,
        name=PAYLOAD + " (duplicada)",
        role=Role.COLLABORATOR,
        company_id=company.id,
    )
    body, _auth = register_device(
        hostname=PAYLOAD, email=person.email, code=company.provisioning_code, serials=("XSS-1",)
    )
    view = saved_views.create_view(admin_user, PAYLOAD, "status=PENDING")
    ticket = tickets.create_ticket(
        tenant_id=tenant.id,
        requester=person,
        subject=PAYLOAD,
        # The payload as the editor sends typed text (escaped), then markup the sanitiser removes.
        description_html=f"<p>{escape(PAYLOAD)}</p>"
        "<img src=x onerror=alert(3)><a href='javascript:alert(4)'>a</a>",
        company_id=company.id,
        machine_id=body["machineId"],
    )
    tickets.assign(ticket, admin_user.id, admin_user)
    tickets.change_queue(ticket, queue.id, admin_user)  # the timeline names the queue
    tickets.add_comment(ticket, person, f"<p>{escape(PAYLOAD)}</p>")
    db.session.commit()  # the services flush; the browser's requests see only what is committed
    return {
        "queue": queue.id,
        "empty_queue": empty_queue.id,
        "company": company.id,
        "person": person,
        "duplicate": duplicate.id,
        "machine": body["machineId"],
        "view": view.id,
        "ticket": ticket.reference,
    }


def test_payload_names_stay_text_on_every_page(new_page, tenant, admin_user, register_device):
    world = _named_world(tenant, admin_user, register_device)
    page = new_page()
    watch = Watch(page)
    browser_login(page, admin_user)
    watch.check("login")

    # Filas: the page the old onsubmit made an attack on every admin.
    watch.open("/filas")
    expect(page.locator("main table")).to_contain_text(PAYLOAD)
    page.set_viewport_size({"width": 1440, "height": 900})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "filas-1440x900.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=SCREENSHOTS / "filas-390x844.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 720})
    empty_row = page.locator("tr", has=page.locator(f'form[action="/filas/{world["empty_queue"]}/excluir"]'))
    delete = empty_row.get_by_role("button", name="Excluir")
    question = watch.confirm(delete, accept=False)
    assert question == f"Excluir a fila “{PAYLOAD} (vazia)”?"
    expect(page.locator("main table")).to_contain_text(PAYLOAD + " (vazia)")  # still there
    question = watch.confirm(delete, accept=True)
    assert PAYLOAD in question
    expect(page.locator("#flash-area")).to_contain_text("Fila excluída.")
    expect(page.locator("main table")).not_to_contain_text(PAYLOAD + " (vazia)")
    expect(page.locator("main table")).to_contain_text(PAYLOAD)
    watch.check("Filas after delete")

    # Empresas: the list and the edit form (and its confirmed code rotation).
    watch.open("/empresas")
    expect(page.locator("#company-list")).to_contain_text(PAYLOAD)
    watch.open(f"/empresas/{world['company']}")
    expect(page.get_by_label("Nome")).to_have_value(PAYLOAD)
    expect(page.get_by_label("Apelido")).to_have_value(PAYLOAD)
    code = page.locator("#provisioning-code").inner_text()
    rotate = page.get_by_role("button", name="Gerar novo código")
    question = watch.confirm(rotate, accept=False)
    assert question == "Gerar um novo código? O código atual deixa de valer para novas instalações."
    expect(page.locator("#provisioning-code")).to_have_text(code)
    watch.confirm(rotate, accept=True)
    expect(page.locator("#flash-area")).to_contain_text(PAYLOAD)  # the flash names the apelido
    expect(page.locator("#provisioning-code")).not_to_have_text(code)
    watch.check("company form")

    # Usuários: the list (people and devices), the edit form, the merge preview and its confirm.
    watch.open("/usuarios")
    expect(page.locator("#user-list tr[data-kind=pessoa]", has_text=EMAIL_PAYLOAD)).to_contain_text(PAYLOAD)
    expect(page.locator("#user-list tr[data-kind=dispositivo]")).to_contain_text(PAYLOAD)
    person = world["person"]
    watch.open(f"/usuarios/{person.id}")
    expect(page.get_by_label("Nome")).to_have_value(PAYLOAD)
    expect(page.locator("#user-devices")).to_contain_text(PAYLOAD)
    watch.open(f"/usuarios/{world['duplicate']}")
    expect(page.get_by_label("E-mail")).to_have_value(EMAIL_PAYLOAD)
    watch.open(f"/usuarios/{world['duplicate']}/mesclar?destino={person.email}")
    expect(page.locator("#merge-preview")).to_contain_text(PAYLOAD)
    expect(page.locator("h1")).to_contain_text(EMAIL_PAYLOAD)
    question = watch.confirm(page.get_by_role("button", name="Mesclar contas"), accept=False)
    assert question == f"Mesclar {EMAIL_PAYLOAD} em {person.email}? Isto não pode ser desfeito."
    expect(page.locator("#merge-preview")).to_be_visible()  # nothing was sent
    watch.check("merge preview")

    # Dispositivos: the list and the device page (and its confirmed reset).
    watch.open("/dispositivos")
    expect(page.locator("#device-table")).to_contain_text(PAYLOAD)
    watch.open(f"/dispositivos/{world['machine']}")
    expect(page.locator("h1")).to_contain_text(PAYLOAD)
    expect(page.locator("#assigned-user")).to_contain_text(PAYLOAD)
    reset = page.get_by_role("button", name="Resetar agente")
    question = watch.confirm(reset, accept=False)
    assert question.startswith("Resetar o agente?")
    expect(page.locator("#tokens")).not_to_contain_text("Revogado")
    watch.confirm(reset, accept=True)
    expect(page.locator("#flash-area")).to_contain_text("Agente resetado")
    expect(page.locator("#tokens")).to_contain_text("Revogado (agente resetado)")
    watch.check("device page")

    # Chamados: the list with the saved view, whose delete is an htmx hx-confirm.
    watch.open("/chamados?f=1")
    expect(page.locator("#ticket-table")).to_contain_text(PAYLOAD)
    expect(page.locator("#ticket-filters")).to_contain_text(PAYLOAD)
    views = page.locator("#saved-views")
    expect(views.get_by_role("link", name=PAYLOAD)).to_be_visible()
    views.get_by_text("Editar").click()
    delete_view = views.get_by_role("button", name="Excluir")
    question = watch.confirm(delete_view, accept=False)
    assert question == f"Excluir a visão “{PAYLOAD}”?"
    expect(views.get_by_role("link", name=PAYLOAD)).to_be_visible()
    watch.confirm(delete_view, accept=True)  # an htmx POST: the CSRF header still goes with it
    expect(page.locator("#flash-area")).to_contain_text("Visão excluída.")
    expect(views).to_contain_text("Nenhuma visão salva.")
    assert db.session.get(SavedView, world["view"]) is None
    watch.check("ticket list")

    # The ticket page: company, queue, requester, device and comment all carry the payload.
    with page.expect_websocket() as socket_info:
        watch.open(f"/chamados/{world['ticket']}")
    socket = socket_info.value
    assert socket.url.endswith("/ws/chat")  # connect-src 'self' let the chat's socket through
    expect(page.locator("#ticket-main h1")).to_contain_text(PAYLOAD)
    expect(page.locator("#ticket-main .facts")).to_contain_text(PAYLOAD)
    expect(page.get_by_label("Fila")).to_have_value(str(world["queue"]))
    expect(page.locator(".ticket-description")).to_contain_text(PAYLOAD)
    expect(page.locator(".ticket-description a")).not_to_have_attribute("href", "javascript:alert(4)")
    expect(page.locator("#chat-device-state")).to_contain_text(PAYLOAD)
    expect(page.locator("#timeline .comment")).to_contain_text(PAYLOAD)
    watch.check("ticket page")

    # The rest of the staff pages that name them.
    for path in ("/", "/admin/auditoria"):
        watch.open(path)
    expect(page.locator("main")).to_contain_text(PAYLOAD)
    watch.check("audit")
    assert [kind for kind, _message in watch.dialogs] == ["confirm"] * 9

    # The collaborator of that company, in the portal.
    portal = new_page()
    portal_watch = Watch(portal)
    browser_login(portal, person)
    expect(portal.locator("#portal-person")).to_contain_text(PAYLOAD)
    expect(portal.locator("#portal-list")).to_contain_text(PAYLOAD)
    portal_watch.check("portal")
    reference = db.session.query(Ticket).one().reference
    portal_watch.open(f"/portal/chamados/{reference}")
    expect(portal.locator(".ticket-head")).to_contain_text(PAYLOAD)
    expect(portal.locator(".ticket-description")).to_contain_text(PAYLOAD)
    expect(portal.locator("#timeline")).to_contain_text(PAYLOAD)
    portal_watch.open("/portal/chamados/novo")
    portal_watch.check("portal new ticket")
    assert portal_watch.dialogs == []


def test_trix_and_htmx_work_under_the_policy(page, tenant, admin_user, queue):
    """A CSP mistake usually shows as a dead editor: Trix's toolbar, its hidden dialogs (its own
    <style>, allowed by hash), typing, and the ticket it sends; htmx's config and indicator CSS."""
    company = companies.create_company(tenant.id, name=PAYLOAD, apelido="xss-empresa")
    db.session.commit()
    watch = Watch(page)
    browser_login(page, admin_user)
    page.set_viewport_size({"width": 1440, "height": 900})
    watch.open("/chamados/novo")
    toolbar = page.locator("trix-toolbar")
    expect(toolbar).to_be_visible()
    expect(toolbar.locator(".trix-button--icon-bold")).to_be_visible()
    expect(toolbar.locator("[data-trix-dialog=href]")).to_be_hidden()  # Trix's own CSS applied
    assert page.evaluate("getComputedStyle(document.querySelector('trix-editor')).display") == "block"
    expect(page.get_by_label("Empresa")).to_contain_text(PAYLOAD)

    page.get_by_label("Assunto").fill("Editor sob a política")
    editor = page.locator("#description-editor")
    editor.click()
    editor.type("Texto normal, ")
    toolbar.locator(".trix-button--icon-bold").click()
    editor.type("em negrito")
    expect(page.locator("#description")).to_have_value(
        re.compile(r"^<div>Texto normal,(&nbsp;| )<strong>em negrito</strong></div>$")
    )
    toolbar.locator(".trix-button--icon-link").click()
    expect(toolbar.locator("[data-trix-dialog=href]")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_label("Empresa").select_option(str(company.id))
    page.screenshot(path=SCREENSHOTS / "novo-chamado-1440x900.png", full_page=True)

    assert page.evaluate(
        "[htmx.config.includeIndicatorStyles, htmx.config.allowEval, htmx.config.allowScriptTags]"
    ) == [False, False, False]
    opacity = page.evaluate(
        """() => { const e = document.createElement('span'); e.className = 'htmx-indicator';
                   document.body.append(e); const hidden = getComputedStyle(e).opacity;
                   document.body.classList.add('htmx-request'); const shown = getComputedStyle(e).visibility;
                   document.body.classList.remove('htmx-request'); e.remove(); return [hidden, shown]; }"""
    )
    assert opacity == ["0", "visible"]

    page.get_by_role("button", name="Abrir chamado").click()
    expect(page.locator("#ticket-main h1")).to_contain_text("Editor sob a política")
    expect(page.locator(".ticket-description strong")).to_have_text("em negrito")
    ticket = db.session.query(Ticket).one()
    assert db.session.get(Company, ticket.company_id).name == PAYLOAD
    watch.check("new ticket")
    assert watch.dialogs == []
