// Chamados respostas prontas (#23), staff ticket page: insert a tenant's reply text in the
// comment editor, filled on the server for this ticket (GET data-canned-url answers
// {title, html}; the variables' values are escaped there).
//
// - The "Respostas prontas" menu (<details class="canned-menu">) lists them, with a filter;
//   choosing one inserts it where the cursor is.
// - Typing "/" at the start of a line in the editor opens the same list under the cursor,
//   filtered by what follows the slash ("/senha"); ArrowUp/ArrowDown choose, Enter or Tab
//   insert (replacing the "/senha" typed), Escape closes.
// Everything is found from the document at the moment it is needed, so the comment form
// being replaced (htmx, live.js) needs nothing re-bound.
(function () {
  "use strict";

  var EDITOR_ID = "comment-editor";
  var popup = null; // the "/" list, one per page, appended to <body> while open
  var slash = null; // {start, query, active} while the "/" list is open

  function editorElement() { return document.getElementById(EDITOR_ID); }

  function fold(text) {
    return (text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }

  function replies() {
    return Array.prototype.map.call(document.querySelectorAll("#canned-options [data-canned-url]"), function (item) {
      return { title: item.textContent.trim(), url: item.dataset.cannedUrl };
    });
  }

  function say(message) {
    var status = document.getElementById("canned-status");
    if (status) status.textContent = message;
  }

  // Fetch the filled reply and put it in the editor; `range` (optional) is replaced by it.
  function insert(url, range) {
    var element = editorElement();
    if (!element || !element.editor) return;
    say("");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (reply) {
        var editor = element.editor;
        if (range && editor.getDocument().toString().substr(range.start, range.text.length) === range.text) {
          editor.setSelectedRange([range.start, range.start + range.text.length]);
          editor.deleteInDirection("backward");
        }
        editor.insertHTML(reply.html);
        element.focus();
        say("Resposta pronta “" + reply.title + "” inserida.");
      })
      .catch(function () { say("Não foi possível inserir a resposta pronta. Tente de novo."); });
  }

  // --- the menu -----------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    var option = event.target.closest(".canned-menu [data-canned-url]");
    if (!option) return;
    event.preventDefault();
    var menu = option.closest("details");
    if (menu) menu.open = false;
    insert(option.dataset.cannedUrl, null);
  });

  document.addEventListener("input", function (event) {
    var filter = event.target.closest(".canned-filter");
    if (!filter) return;
    var term = fold(filter.value.trim());
    var shown = 0;
    document.querySelectorAll("#canned-options li").forEach(function (item) {
      var match = !term || fold(item.textContent).indexOf(term) !== -1;
      item.hidden = !match;
      if (match) shown += 1;
    });
    var none = document.getElementById("canned-none");
    if (none) none.hidden = shown !== 0;
  });

  // Escape inside the menu, or a click outside it, closes it (a <details> does neither).
  document.addEventListener("keydown", function (event) {
    var menu = event.key === "Escape" && event.target.closest && event.target.closest(".canned-menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll(".canned-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!menu.classList || !menu.classList.contains("canned-menu") || !menu.open) return;
    var filter = menu.querySelector(".canned-filter");
    if (filter) filter.focus();
  }, true);

  // --- "/" at the start of a line ------------------------------------------------------

  // The "/word" being typed right before the cursor, if it starts a line; else null.
  function slashAtCursor(editor) {
    var range = editor.getSelectedRange();
    if (!range || range[0] !== range[1]) return null;
    var position = range[0];
    var text = editor.getDocument().toString();
    var start = position - 1;
    while (start >= 0 && text[start] !== "/" && !/\s/.test(text[start])) start -= 1;
    if (start < 0 || text[start] !== "/") return null;
    if (start > 0 && text[start - 1] !== "\n") return null;
    return { start: start, query: text.slice(start + 1, position) };
  }

  function matching(query) {
    var term = fold(query);
    return replies().filter(function (reply) { return fold(reply.title).indexOf(term) !== -1; });
  }

  function closeSlash() {
    slash = null;
    if (popup) popup.remove();
    popup = null;
    var element = editorElement();
    if (element) {
      element.removeAttribute("aria-activedescendant");
      element.removeAttribute("aria-controls");
    }
  }

  function render(element, found) {
    if (!popup) {
      popup = document.createElement("ul");
      popup.id = "canned-slash-list";
      popup.className = "canned-slash";
      popup.setAttribute("role", "listbox");
      popup.setAttribute("aria-label", "Respostas prontas");
      popup.addEventListener("mousedown", function (event) {
        var item = event.target.closest("li[data-index]");
        event.preventDefault(); // keep the editor's focus and cursor
        if (item) choose(Number(item.dataset.index));
      });
      document.body.appendChild(popup);
    }
    popup.textContent = "";
    if (!found.length) {
      var empty = document.createElement("li");
      empty.className = "canned-slash-empty";
      empty.textContent = "Nenhuma resposta pronta com “" + slash.query + "”.";
      popup.appendChild(empty);
    }
    found.forEach(function (reply, index) {
      var item = document.createElement("li");
      item.id = "canned-slash-" + index;
      item.dataset.index = String(index);
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === slash.active ? "true" : "false");
      item.textContent = reply.title;
      popup.appendChild(item);
    });
    // The editor is a textbox (aria-expanded is not allowed there): it points at the list instead.
    element.setAttribute("aria-controls", popup.id);
    if (found.length) element.setAttribute("aria-activedescendant", "canned-slash-" + slash.active);
    else element.removeAttribute("aria-activedescendant");
    place(element);
  }

  function place(element) {
    var rect = null;
    try { rect = element.editor.getClientRectAtPosition(slash.start); } catch (error) { rect = null; }
    var box = element.getBoundingClientRect();
    var left = rect ? rect.left : box.left + 8;
    var top = rect ? rect.bottom + 4 : box.top + 28;
    popup.style.left = Math.max(8, Math.min(left, window.innerWidth - 288)) + window.scrollX + "px";
    popup.style.top = top + window.scrollY + "px";
  }

  function update() {
    var element = editorElement();
    if (!element || !element.editor || replies().length === 0) return closeSlash();
    var found = slashAtCursor(element.editor);
    if (!found) return closeSlash();
    var active = slash && slash.start === found.start ? slash.active : 0;
    slash = { start: found.start, query: found.query, active: active, found: matching(found.query) };
    slash.active = Math.min(slash.active, Math.max(slash.found.length - 1, 0));
    render(element, slash.found);
  }

  function choose(index) {
    if (!slash || !slash.found[index]) return;
    var range = { start: slash.start, text: "/" + slash.query };
    var url = slash.found[index].url;
    closeSlash();
    insert(url, range);
  }

  document.addEventListener("trix-change", function (event) {
    if (event.target.id === EDITOR_ID) update();
  });
  document.addEventListener("trix-selection-change", function (event) {
    if (event.target.id === EDITOR_ID && slash) update();
  });
  document.addEventListener("trix-blur", function (event) {
    if (event.target.id === EDITOR_ID) closeSlash();
  });

  // Capture phase: the list's keys are the list's, not Trix's (no new line on Enter).
  document.addEventListener("keydown", function (event) {
    if (!slash || event.target.id !== EDITOR_ID) return;
    var count = slash.found.length;
    if (event.key === "Escape") {
      closeSlash();
    } else if (event.key === "ArrowDown" && count) {
      slash.active = (slash.active + 1) % count;
      render(event.target, slash.found);
    } else if (event.key === "ArrowUp" && count) {
      slash.active = (slash.active - 1 + count) % count;
      render(event.target, slash.found);
    } else if ((event.key === "Enter" || event.key === "Tab") && count) {
      choose(slash.active);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);

  // The page reflowed (a phone turned, a window resized): the cursor moved, the list follows.
  window.addEventListener("resize", function () {
    var element = editorElement();
    if (slash && popup && element) place(element);
  });

  // The form replaced (a comment sent, a live refresh): the list belonged to the old editor.
  // Only a swap of what holds the editor: the chat panel or a notice reloading must not close
  // the list under the cursor.
  function closeIfEditorReplaced(event) {
    var element = editorElement();
    if (!element || event.detail.target.contains(element)) closeSlash();
  }
  document.addEventListener("htmx:beforeSwap", closeIfEditorReplaced);
  document.addEventListener("htmx:oobBeforeSwap", closeIfEditorReplaced);
  document.addEventListener("live:refreshed", function () { if (!document.getElementById(EDITOR_ID)) closeSlash(); });
})();
