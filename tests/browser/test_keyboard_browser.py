"""The keyboard: shortcuts on the ticket list and the ticket page, the list of shortcuts ("?"),
the skip link, and the editor's toolbar in Portuguese (static/shortcuts.js, static/trix-pt-BR.js)."""

import re
from pathlib import Path

from playwright.sync_api import expect

from app.extensions import db
from app.models import Ticket
from tests.browser.test_accessibility_browser import axe_violations
from tests.conftest import browser_login

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SHORTCUT_TEXTS = (
    "Próximo / anterior chamado",
    "Abrir o chamado selecionado",
    "Ir para a busca",
    "Responder",
    "Atribuir o chamado a mim",
    "Mostrar estes atalhos",
)


def _selected(page):
    return page.locator("#ticket-rows tr.is-selected")


def test_j_k_move_the_selection_enter_opens_and_slash_searches(page, agent_user, make_ticket):
    tickets = [make_ticket(f"Chamado número {number}") for number in range(3)]
    newest_first = [ticket.reference for ticket in reversed(tickets)]
    browser_login(page, agent_user)
    page.goto("/chamados?f=1")
    expect(page.locator("#ticket-rows tr")).to_have_count(3)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.keyboard.press("j")
    expect(_selected(page)).to_have_attribute("data-reference", str(newest_first[0]))
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")  # stays on the last row
    expect(_selected(page)).to_have_attribute("data-reference", str(newest_first[2]))
    page.keyboard.press("k")
    selected = _selected(page)
    expect(selected).to_have_count(1)
    expect(selected).to_have_attribute("data-reference", str(newest_first[1]))
    # The row is marked and its link has the focus, with a visible ring.
    focused = page.evaluate(
        "() => { const a = document.activeElement; return [a.closest('tr').dataset.reference,"
        " getComputedStyle(a).outlineStyle, getComputedStyle(a.closest('td')).backgroundColor]; }"
    )
    assert focused[0] == str(newest_first[1]) and focused[1] == "solid", focused
    assert focused[2] not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), focused

    # "/" goes to the search; typing there is typing, not shortcuts.
    page.keyboard.press("/")
    search = page.get_by_label("Busca")
    expect(search).to_be_focused()
    page.keyboard.type("jk")
    expect(search).to_have_value("jk")
    expect(_selected(page)).to_have_attribute("data-reference", str(newest_first[1]))
    search.fill("")
    page.keyboard.press("Escape")

    page.locator(f'#ticket-rows tr[data-reference="{newest_first[1]}"] a').first.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/chamados/{newest_first[1]}$"))
    assert errors == []


def test_the_selection_survives_a_live_refresh_of_the_rows(new_page, agent_user, admin_user, make_ticket):
    first = make_ticket("Primeiro")
    second = make_ticket("Segundo")  # newest first: the first row
    page = new_page()
    browser_login(page, agent_user)
    page.goto("/chamados?f=1")
    page.keyboard.press("j")
    expect(_selected(page)).to_have_attribute("data-reference", str(second.reference))
    # Someone else changes the ticket: live.js replaces the rows; the same row stays selected.
    other = new_page()
    browser_login(other, admin_user)
    other.goto(f"/chamados/{second.reference}")
    other.get_by_label("Prioridade").select_option("URGENT")
    expect(page.locator("#ticket-rows tr.live-changed")).to_have_count(1)
    expect(_selected(page)).to_have_attribute("data-reference", str(second.reference))
    page.keyboard.press("j")
    expect(_selected(page)).to_have_attribute("data-reference", str(first.reference))


def test_r_goes_to_the_editor_and_a_assigns_to_me(page, agent_user, make_ticket):
    ticket = make_ticket("Sem responsável ainda")
    browser_login(page, agent_user)
    page.goto(f"/chamados/{ticket.reference}")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.keyboard.press("r")  # no one assigned: no editor yet, the page says what to do
    expect(page.locator("#flash-area")).to_contain_text("a tecla a atribui o chamado a você")

    page.keyboard.press("a")
    expect(page.locator('#ticket-main select[name="assignee_id"]')).to_have_value(str(agent_user.id))
    expect(page.locator("#timeline")).to_contain_text(agent_user.name)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).assignee_id == agent_user.id

    page.keyboard.press("r")
    editor = page.locator("#comment-editor")
    expect(editor).to_be_focused()
    page.keyboard.type("a resposta")  # typing: neither "a" nor "r" is a shortcut here
    expect(editor).to_have_text("a resposta")

    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("a")  # already mine
    expect(page.locator("#flash-area")).to_contain_text("Este chamado já está atribuído a você.")
    assert errors == []


def test_a_clicks_the_atribuir_a_mim_button_when_the_page_has_one(page, agent_user, make_ticket):
    ticket = make_ticket("Com botão")
    browser_login(page, agent_user)
    page.goto(f"/chamados/{ticket.reference}")
    button = page.get_by_role("button", name="Atribuir a mim")
    expect(button).to_be_visible()
    page.evaluate(
        """() => document.querySelectorAll('button').forEach((b) => {
          if (b.textContent.trim() !== 'Atribuir a mim') return;
          b.addEventListener('click', () => { window.clicked = true; });
        })"""
    )
    page.keyboard.press("a")
    expect(page.locator('#ticket-main select[name="assignee_id"]')).to_have_value(str(agent_user.id))
    expect(button).to_have_count(0)  # mine now: the header no longer offers it
    assert page.evaluate("() => window.clicked === true")  # the page's own button did it


def test_question_mark_lists_the_shortcuts_in_portuguese_and_esc_closes(page, agent_user, make_ticket):
    make_ticket("Um chamado")
    browser_login(page, agent_user)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/chamados?f=1")
        page.keyboard.press("Shift+Slash")  # "?"
        dialog = page.get_by_role("dialog", name="Atalhos do teclado")
        expect(dialog).to_be_visible()
        for text in SHORTCUT_TEXTS:
            expect(dialog).to_contain_text(text)
        box = dialog.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
        page.screenshot(path=SCREENSHOTS / f"atalhos-{width}x{height}.png")
        assert axe_violations(page) == []  # the open dialog too
        page.keyboard.press("j")  # nothing moves behind the dialog
        expect(_selected(page)).to_have_count(0)
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
    # Typed in a field, "?" is a question mark.
    search = page.get_by_label("Busca")
    search.click()
    page.keyboard.type("?")
    expect(search).to_have_value("?")
    expect(page.get_by_role("dialog", name="Atalhos do teclado")).to_be_hidden()


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(page, agent_user):
    browser_login(page, agent_user)
    page.goto("/chamados?f=1")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Pular para o conteúdo")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#conteudo")).to_be_focused()
    page.keyboard.press("Tab")  # the next stop is in the content, not the menu
    assert page.evaluate("() => document.querySelector('main').contains(document.activeElement)")


def test_the_editor_toolbar_and_link_dialog_speak_portuguese(page, agent_user, queue):
    browser_login(page, agent_user)
    page.goto("/chamados/novo")
    toolbar = page.locator("trix-toolbar").first
    titles = toolbar.locator("button[title]").evaluate_all("(buttons) => buttons.map((b) => b.title)")
    for word in ("Negrito", "Itálico", "Tachado", "Link", "Título", "Citação", "Código", "Lista",
                 "Lista numerada", "Diminuir recuo", "Aumentar recuo", "Anexar arquivos", "Desfazer",
                 "Refazer"):  # fmt: skip
        assert word in titles, titles
    assert not {"Bold", "Italic", "Undo", "Quote", "Bullets"} & set(titles), titles
    page.locator("#description-editor").click()
    toolbar.get_by_role("button", name="Link").click()
    link_dialog = toolbar.locator('[data-trix-dialog="href"]')
    expect(link_dialog.locator('input[name="href"]')).to_have_attribute("placeholder", "Digite uma URL…")
    expect(link_dialog.locator('input[value="Vincular"]')).to_be_visible()
    expect(link_dialog.locator('input[value="Desvincular"]')).to_be_attached()
    assert axe_violations(page) == []  # the link dialog open


def test_the_close_dialog_is_accessible(page, agent_user, make_ticket):
    from app.models import TicketStatus

    ticket = make_ticket("Para encerrar", status=TicketStatus.IN_PROGRESS, assignee_id=agent_user.id)
    browser_login(page, agent_user)
    page.goto(f"/chamados/{ticket.reference}")
    page.get_by_role("button", name="Encerrar", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Encerrar chamado #{ticket.reference}")
    expect(dialog).to_be_visible()
    message = dialog.get_by_role("textbox", name="Mensagem de encerramento (enviada ao solicitante)")
    expect(message).to_be_visible()
    assert axe_violations(page) == []


def test_a_toolbar_drawn_in_english_is_translated_and_its_form_still_sends(page, agent_user, queue):
    """Under load Trix can draw a toolbar before trix-pt-BR.js set the words. That toolbar is
    translated in place: drawn again, its hidden link dialog's required URL field came back
    enabled and the browser refused to send the form (the reply never left the page)."""
    browser_login(page, agent_user)
    page.goto("/chamados/novo")
    state = page.evaluate(
        """() => new Promise((done) => {
          const portuguese = Object.assign({}, Trix.config.lang);
          Object.assign(Trix.config.lang, {bold: "Bold", italic: "Italic", undo: "Undo", url: "URL",
                                           urlPlaceholder: "Enter a URL…"});
          const form = document.createElement("form");
          form.innerHTML = '<input type="hidden" id="late-body">'
            + '<trix-editor input="late-body"></trix-editor>';
          document.addEventListener("trix-initialize", (event) => {
            if (!form.contains(event.target)) return;
            setTimeout(() => {
              const toolbar = event.target.toolbarElement;
              done({
                bold: toolbar.querySelector('[data-trix-attribute="bold"]').title,
                undo: toolbar.querySelector('[data-trix-action="undo"]').textContent,
                placeholder: toolbar.querySelector('input[name="href"]').placeholder,
                urlDisabled: toolbar.querySelector('input[name="href"]').disabled,
                sendable: form.checkValidity(),
              });
            }, 0);
          });
          document.querySelector("main").appendChild(form);  // its toolbar is drawn now, in English
          Object.assign(Trix.config.lang, portuguese);  // as when trix-pt-BR.js runs after the draw
        })"""
    )
    assert state == {
        "bold": "Negrito",
        "undo": "Desfazer",
        "placeholder": "Digite uma URL…",
        "urlDisabled": True,
        "sendable": True,
    }, state
