// Chamados keyboard shortcuts, staff pages (the list of them: templates/_shortcuts.html).
// - the ticket list (#ticket-rows): j / k move the selection, a marked row whose link has the
//   focus (so Enter opens it, as it would by Tab); "/" goes to the search field;
// - a ticket page (<article class="ticket" data-assign-url data-user-id>): r goes to the reply
//   editor; a assigns the ticket to oneself (the page's "Atribuir a mim" button when it has one,
//   otherwise the assign form's own route with one's id);
// - anywhere: "?" opens the list of shortcuts (a <dialog>: Esc closes it).
// Never while typing in a field or an editor, with Ctrl, Alt or Meta held, or while a dialog is
// open. The selection survives live.js and htmx replacing the rows.
(function () {
  "use strict";

  var NOT_TYPING = { checkbox: true, radio: true, button: true, submit: true, reset: true, file: true };
  var selected = null; // reference of the selected row

  function typingIn(node) {
    if (!node || !node.closest) return false;
    if (node.tagName === "INPUT") return !NOT_TYPING[(node.type || "text").toLowerCase()];
    return Boolean(node.closest("textarea, select, trix-editor, [contenteditable]:not([contenteditable='false'])"));
  }

  function say(text) {
    var area = document.getElementById("flash-area");
    if (!area) return;
    var message = document.createElement("div");
    message.className = "flash";
    message.setAttribute("role", "status");
    message.textContent = text;
    area.replaceChildren(message);
  }

  // --- the ticket list --------------------------------------------------------------

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#ticket-rows tr[data-reference]"));
  }

  function currentRow() {
    var focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("#ticket-rows tr[data-reference]") : null;
    if (focused) return focused;
    return selected ? document.querySelector('#ticket-rows tr[data-reference="' + selected + '"]') : null;
  }

  function mark(row, focus) {
    rows().forEach(function (other) { other.classList.remove("is-selected"); });
    row.classList.add("is-selected");
    selected = row.dataset.reference;
    var link = row.querySelector("a[href]");
    if (!focus || !link) return;
    link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = rows();
    if (!list.length) return false;
    var index = list.indexOf(currentRow());
    var next = index === -1 ? (step > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, index + step));
    mark(list[next], true);
    return true;
  }

  function openSelected() {
    var row = currentRow();
    var link = row && row.querySelector("a[href]");
    if (!link) return false;
    link.click();
    return true;
  }

  function focusSearch() {
    var field = document.querySelector("[data-shortcut-search]") || document.querySelector("main input[type=search]");
    if (!field) return false;
    field.focus();
    if (field.select) field.select();
    return true;
  }

  // Rows replaced (a live refresh, a filter): the same ticket stays selected if it is still there.
  ["live:refreshed", "htmx:afterSettle"].forEach(function (name) {
    document.addEventListener(name, function () {
      if (!selected) return;
      var row = document.querySelector('#ticket-rows tr[data-reference="' + selected + '"]');
      if (!row) return;
      var lostFocus = !document.activeElement || document.activeElement === document.body;
      mark(row, lostFocus);
    });
  });

  // --- a ticket page ----------------------------------------------------------------

  function ticketPage() { return document.querySelector("article.ticket[data-reference]"); }

  function reply() {
    if (!ticketPage()) return false;
    var editor = document.getElementById("comment-editor");
    if (!editor) {
      say("Atribua um responsável para comentar: a tecla a atribui o chamado a você.");
      return true;
    }
    editor.scrollIntoView({ block: "center" });
    editor.focus();
    return true;
  }

  function assignButton() {
    var button = document.getElementById("assign-to-me");  // tickets/_main.html
    return button && !button.disabled ? button : null;
  }

  function assignToMe() {
    var article = ticketPage();
    if (!article) return false;
    var button = assignButton();
    if (button) {
      button.click();
      return true;
    }
    var me = article.dataset.userId;
    var select = document.querySelector('#ticket-main select[name="assignee_id"]');
    if (select && select.value === me) {
      say("Este chamado já está atribuído a você.");
      return true;
    }
    if (!window.htmx || !article.dataset.assignUrl || !me) return false;
    // The same request as choosing oneself in "Responsável" (hx-headers of <body> carry the CSRF token).
    htmx.ajax("POST", article.dataset.assignUrl, {
      source: article, target: "#ticket-main", swap: "outerHTML", values: { assignee_id: me }
    });
    return true;
  }

  // --- the list of shortcuts ---------------------------------------------------------

  function showHelp() {
    var dialog = document.getElementById("shortcuts-dialog");
    if (!dialog) return false;
    dialog.showModal();
    return true;
  }

  var KEYS = {
    j: function () { return move(1); },
    k: function () { return move(-1); },
    "/": focusSearch,
    r: reply,
    a: assignToMe,
    "?": showHelp
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typingIn(event.target) || document.querySelector("dialog[open]")) return;
    if (event.key === "Enter") {
      // On a selected row whose link lost the focus (links and buttons do their own Enter).
      if (event.target.closest && event.target.closest("a, button, input, summary")) return;
      if (selected && openSelected()) event.preventDefault();
      return;
    }
    var action = KEYS[event.key];
    if (action && action()) event.preventDefault();
  });
})();
