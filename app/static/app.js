// Chamados: the little JavaScript the server-rendered pages need.
(function () {
  "use strict";

  // htmx: swap 4xx answers too (they carry Portuguese messages or forms with errors).
  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "4..", swap: true, error: false },
        { code: "5..", swap: false, error: true },
      ];
      htmx.config.historyCacheSize = 0; // back/forward re-fetches, so lists are never stale
    }
  });

  // Messages from a previous swap are cleared when a new request starts, unless it is a
  // background refresh (data-background: the chat widget, auto-refreshing lists).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var area = document.getElementById("flash-area");
    if (event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("[data-background]")) return;
    if (area && event.detail.target !== area) area.innerHTML = "";
  });

  // Dialogs: <button data-open-dialog="id">, <button data-close-dialog>.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      document.getElementById(opener.dataset.openDialog).showModal();
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      closer.closest("dialog").close();
      return;
    }
    var clearer = event.target.closest("[data-clear-editor]");
    if (clearer) {
      var editor = document.getElementById(clearer.dataset.clearEditor);
      if (editor && editor.editor) editor.editor.loadHTML("");
    }
    var all = event.target.closest("[data-select-all]");
    if (all) {
      document.querySelectorAll("input[name=ticket]").forEach(function (box) { box.checked = all.checked; });
    }
  });

  // Confirmations: <form data-confirm="Excluir…?"> asks before it is sent (an htmx form uses
  // hx-confirm). Capture phase, so a refusal stops the submission before anything else sees it.
  // The question is read as text from the attribute: a name in it can never become code.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || form.dataset.confirm === undefined) return;
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Dropdowns (<details data-dropdown>: "Filtros", "Colunas") and the phone's "Menu" close on
  // Escape and on a click outside them. They open and close without this, as any <details>.
  function openMenus() {
    return document.querySelectorAll("details[data-dropdown][open], .site-menu[open]");
  }
  function menuIsFolded(menu) {
    return !menu.classList.contains("site-menu") || getComputedStyle(menu.querySelector("summary")).display !== "none";
  }
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) {
      if (!menu.contains(event.target) && menuIsFolded(menu)) menu.open = false;
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    openMenus().forEach(function (menu) {
      if (!menuIsFolded(menu)) return;
      var inside = menu.contains(document.activeElement);
      menu.open = false;
      if (inside) menu.querySelector("summary").focus();
    });
  });

  // The top bar's menu shows in the bar on wide screens through ::details-content (app.css);
  // a browser without it gets the <details> opened there instead, and folded again on a phone.
  if (window.CSS && CSS.supports && !CSS.supports("selector(::details-content)")) {
    var wide = window.matchMedia("(min-width: 721px)");
    var place = function () {
      var menu = document.getElementById("site-menu");
      if (menu) menu.open = wide.matches;
    };
    document.addEventListener("DOMContentLoaded", place);
    wide.addEventListener("change", place);
  }

  // The floating "Chats ativos" box (staff) comes folded unless a message waits to be read (the
  // server's choice), and always folded on a phone, where open it would cover a good part of the
  // screen; its title counts what is unread either way. Once the person opens or folds it, it
  // stays so through its refreshes (chat.js reloads it).
  var chatBoxWanted = null;
  document.addEventListener("click", function (event) {
    var summary = event.target.closest(".chat-widget-box > summary");
    if (summary) chatBoxWanted = !summary.parentNode.open;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var widget = event.detail.target;
    if (!widget || widget.id !== "chat-widget") return;
    var box = widget.querySelector(".chat-widget-box");
    if (!box) return;
    if (chatBoxWanted !== null) box.open = chatBoxWanted;
    else if (window.matchMedia("(max-width: 720px)").matches) box.open = false;
  });

  // Trix: files go through the form's own file input (checked on the server), not inline.
  document.addEventListener("trix-file-accept", function (event) { event.preventDefault(); });

  // Searchable selects: <input data-filter-select="select-id"> hides options that do not match.
  document.addEventListener("input", function (event) {
    var input = event.target.closest("[data-filter-select]");
    if (!input) return;
    var select = document.getElementById(input.dataset.filterSelect);
    var term = input.value.trim().toLowerCase();
    Array.prototype.forEach.call(select.options, function (option) {
      option.hidden = option.value !== "" && term !== "" && option.text.toLowerCase().indexOf(term) === -1;
    });
  });
})();
