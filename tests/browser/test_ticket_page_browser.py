"""The ticket page of #23 as an agent uses it: the sidebar beside (or under) the header,
"Atribuir a mim", a resposta pronta typed with "/", the timeline's order and merging a
duplicate. Screenshots at 1440x900 and 390x844 in test-artifacts/screenshots/."""

import re
from pathlib import Path

from playwright.sync_api import expect

from app.extensions import db
from app.models import Comment, Ticket, TicketStatus
from app.services import canned_replies
from app.services.tickets import add_comment
from tests.conftest import browser_login, make_user

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _shots(page, name, full_page=False, showing=None):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, suffix in ((DESKTOP, "desktop"), (PHONE, "mobile")):
        page.set_viewport_size(size)
        if showing is not None:
            showing.scroll_into_view_if_needed()
        # The page's resize handlers (the "/" list follows the cursor) and a frame painted with
        # them, before the picture.
        page.wait_for_timeout(250)
        page.screenshot(path=SCREENSHOTS / f"ticket-page-{name}-{suffix}.png", full_page=full_page)
    page.set_viewport_size(DESKTOP)


def _box(page, selector):
    return page.locator(selector).bounding_box()


def test_sidebar_assign_to_me_canned_reply_order_and_merge(
    page, chat_device, agent_user, tenant, make_ticket
):
    from app.models import Role

    bruno = make_user(tenant, Role.AGENT, email="bruno@suporte.test", name="Bruno Lima")
    setup = chat_device()  # an online device, its person's ticket linked to it
    ticket = setup.ticket
    ticket.assignee_id = bruno.id
    db.session.commit()
    add_comment(ticket, bruno, "<p>Primeiro contato: vou verificar a impressora.</p>")
    duplicate = make_ticket("Impressora continua sem imprimir", requester=ticket.requester)
    canned_replies.create_reply(
        tenant.id, "Reinício", "<p>Olá, {solicitante}! Reinicie a impressora, por favor ({numero}).</p>"
    )
    canned_replies.create_reply(tenant.id, "Senha", "<p>Para trocar a senha, {solicitante}…</p>")
    db.session.commit()  # services flush; the browser's requests see only what is committed
    browser_login(page, agent_user)
    page.set_viewport_size(DESKTOP)
    page.goto(f"/chamados/{ticket.reference}")

    # The sidebar: the requester, their other open ticket, the device online with "Iniciar chat".
    sidebar = page.locator("#ticket-sidebar")
    expect(sidebar).to_contain_text("joana@paoquente.test")
    expect(sidebar).to_contain_text("Padaria Pão Quente")
    expect(
        sidebar.get_by_role("link", name=f"#{duplicate.reference} · Impressora continua sem imprimir")
    ).to_be_visible()
    expect(page.locator("#side-device-state")).to_have_text("Online")
    expect(sidebar).to_contain_text("Windows 11 Pro (26100)")
    expect(sidebar.get_by_role("button", name="Iniciar chat")).to_be_enabled()
    main, side = _box(page, "#ticket-main"), _box(page, "#ticket-sidebar")
    assert side["x"] > main["x"] + main["width"] - 1  # two columns: the sidebar on the right
    _shots(page, "sidebar")
    page.set_viewport_size(PHONE)
    main, side = _box(page, "#ticket-main"), _box(page, "#ticket-sidebar")
    conversation = _box(page, ".ticket-conversation")
    assert side["y"] >= main["y"] + main["height"] - 1 and conversation["y"] >= side["y"] + side["height"] - 1
    page.set_viewport_size(DESKTOP)

    # Atribuir a mim: Bruno had it; now it is mine, and the button goes.
    page.get_by_role("button", name="Atribuir a mim").click()
    expect(page.get_by_label("Responsável")).to_have_value(str(agent_user.id))
    expect(page.get_by_role("button", name="Atribuir a mim")).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text(f"Atribuído a {agent_user.name}")

    # "/" at the start of a line lists the respostas prontas; Enter inserts the filled text.
    editor = page.locator("#comment-editor")
    editor.click()
    editor.type("Bom dia!")
    editor.press("Enter")
    editor.type("/rei")
    listbox = page.locator("#canned-slash-list")
    expect(listbox.get_by_role("option")).to_have_text(["Reinício"])
    expect(editor).to_have_attribute("aria-controls", "canned-slash-list")
    _shots(page, "canned-slash", showing=editor)
    editor.press("Enter")
    expect(listbox).to_have_count(0)
    expect(editor).to_contain_text(f"Olá, joana! Reinicie a impressora, por favor ({ticket.reference}).")
    expect(editor).not_to_contain_text("/rei")
    # The menu does the same, at the cursor.
    page.locator(".canned-menu summary").click()
    page.locator(".canned-filter").fill("sen")
    expect(page.locator(".canned-menu").get_by_role("button", name="Reinício")).to_be_hidden()
    page.locator(".canned-menu").get_by_role("button", name="Senha").click()
    expect(editor).to_contain_text("Para trocar a senha, joana…")
    page.get_by_role("button", name="Enviar comentário").click()
    expect(page.locator("#timeline")).to_contain_text("Reinicie a impressora, por favor")
    db.session.expire_all()
    sent = db.session.query(Comment).filter_by(ticket_id=ticket.id).order_by(Comment.id.desc()).first()
    assert "Para trocar a senha, joana…" in sent.body_html and "/rei" not in sent.body_html

    # The order: newest first puts the latest comment on top and the editor above it.
    comments = page.locator("#timeline .comment")
    expect(comments.first).to_contain_text("Primeiro contato")
    # A plain form: the page reloads (a live refresh of the old page may land first; wait).
    with page.expect_navigation(url=re.compile(r"#timeline$")):
        page.get_by_role("button", name="Mais recentes primeiro").click()
    expect(page.get_by_role("button", name="Mais recentes primeiro")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(comments.first).to_contain_text("Para trocar a senha")
    assert _box(page, "#comment-form")["y"] < _box(page, "#timeline")["y"]
    page.goto(f"/chamados/{duplicate.reference}")  # saved for the person: every ticket
    expect(page.get_by_role("button", name="Mais recentes primeiro")).to_have_attribute(
        "aria-pressed", "true"
    )
    with page.expect_navigation(url=re.compile(r"#timeline$")):
        page.get_by_role("button", name="Mais antigos primeiro").click()
    expect(page.get_by_role("button", name="Mais antigos primeiro")).to_have_attribute("aria-pressed", "true")

    # Merge the duplicate into the ticket: choose by number, see what moves, confirm.
    page.get_by_role("link", name="Mesclar em outro chamado").click()
    page.get_by_label("Número do chamado que fica").fill(str(duplicate.reference))
    page.get_by_role("button", name="Ver o que será movido").click()
    expect(page.locator("#merge-error")).to_have_text(
        "Um chamado não pode ser mesclado nele mesmo: escolha outro."
    )
    expect(page.get_by_label("Número do chamado que fica")).to_have_value(str(duplicate.reference))
    page.get_by_label("Número do chamado que fica").fill(f"#{ticket.reference}")
    page.get_by_role("button", name="Ver o que será movido").click()
    preview = page.locator("#merge-preview")
    expect(preview).to_contain_text("Eventos da linha do tempo: 1")
    _shots(page, "merge-confirm", full_page=True)
    preview.get_by_role("button", name=f"Mesclar #{duplicate.reference} no #{ticket.reference}").click()
    expect(page).to_have_url(re.compile(rf"/chamados/{ticket.reference}$"))
    expect(page.locator("#flash-area")).to_contain_text(
        f"Chamado #{duplicate.reference} mesclado no #{ticket.reference}."
    )
    expect(page.locator("#timeline")).to_contain_text(f"Chamado #{duplicate.reference} mesclado neste")
    expect(page.locator("#ticket-sidebar")).to_contain_text("Nenhum outro chamado aberto.")
    page.locator("#timeline").get_by_role("link", name=f"abrir #{duplicate.reference}").click()
    expect(page.locator("#merged-note")).to_contain_text(f"Mesclado no chamado #{ticket.reference}")
    expect(page.locator("#ticket-main .badge").first).to_have_text("Resolvido")
    expect(page.locator("#timeline")).to_contain_text("Este chamado foi mesclado ao chamado")
    _shots(page, "merged")
    page.locator("#timeline .comment").get_by_role("link", name=f"#{ticket.reference}").click()
    expect(page).to_have_url(re.compile(rf"/chamados/{ticket.reference}$"))
    db.session.expire_all()
    assert db.session.get(Ticket, duplicate.id).status is TicketStatus.RESOLVED


def test_a_merge_updates_the_other_tickets_open_screen(new_page, agent_user, make_ticket, tenant):
    """Both tickets' screens follow a merge without a reload (the change feed)."""
    survivor = make_ticket("Fica", assignee_id=agent_user.id)
    duplicate = make_ticket("Sai")
    watcher = new_page()
    browser_login(watcher, agent_user)
    watcher.goto(f"/chamados/{survivor.reference}")
    watcher.evaluate("window.__sameDocument = true")
    expect(watcher.locator("#timeline")).not_to_contain_text("mesclado")

    merger = new_page()
    browser_login(merger, agent_user)
    merger.goto(f"/chamados/{duplicate.reference}/mesclar?destino={survivor.reference}")
    merger.get_by_role("button", name=f"Mesclar #{duplicate.reference} no #{survivor.reference}").click()
    expect(merger).to_have_url(re.compile(rf"/chamados/{survivor.reference}$"))

    expect(watcher.locator("#timeline")).to_contain_text(f"Chamado #{duplicate.reference} mesclado neste")
    assert watcher.evaluate("window.__sameDocument") is True


def test_the_slash_list_stays_open_when_another_part_of_the_page_is_swapped(
    page, agent_user, tenant, make_ticket
):
    ticket = make_ticket("Lista aberta", assignee_id=agent_user.id)
    canned_replies.create_reply(tenant.id, "Reinício", "<p>Reinicie a impressora.</p>")
    db.session.commit()
    browser_login(page, agent_user)
    page.goto(f"/chamados/{ticket.reference}")
    editor = page.locator("#comment-editor")
    editor.click()
    editor.type("/rei")
    listbox = page.locator("#canned-slash-list")
    expect(listbox.get_by_role("option")).to_have_text(["Reinício"])
    # Something else on the page reloads through htmx (the chat panel, a notice): the list stays.
    page.evaluate(
        """() => new Promise((done) => {
          document.body.addEventListener("htmx:afterSwap", () => done(), { once: true });
          htmx.ajax("GET", location.pathname, { target: "#flash-area", select: "#flash-area" });
        })"""
    )
    expect(listbox.get_by_role("option")).to_have_text(["Reinício"])
    editor.press("Enter")
    expect(editor).to_contain_text("Reinicie a impressora.")


def test_starting_the_chat_from_the_sidebar_updates_the_sidebar_and_the_panel(page, chat_device, agent_user):
    """The sidebar's "Iniciar chat" opens the chat panel; the sidebar then says the chat is on
    (the chat's start is a change of the ticket, which the page follows), without a reload."""
    setup = chat_device()
    db.session.commit()
    browser_login(page, agent_user)
    page.goto(f"/chamados/{setup.ticket.reference}")
    sidebar = page.locator("#ticket-sidebar")
    sidebar.get_by_role("button", name="Iniciar chat").click()
    expect(page.locator("#chat")).to_contain_text("Chat ao vivo")
    expect(sidebar.get_by_role("link", name="Chat ao vivo em andamento")).to_be_visible(timeout=3000)
    expect(sidebar.get_by_role("button", name="Iniciar chat")).to_have_count(0)
