// Chamados presence (#22), staff only: who else has a ticket open and who is writing in it,
// over the tab's socket (chat.js's ChamadosSocket; the server side is app/chat/presence.py).
//
// - A ticket page (<article class="ticket" data-reference="42">) says it is open on every
//   (re)connect, when typing in the comment editor starts (input) or stops (4 s without input,
//   or the comment is sent), and every 20 s; it says it left on pagehide. Under the title,
//   #ticket-presence shows "Também neste chamado: Ana Souza, Bruno Lima" and "Ana Souza está
//   escrevendo…" (aria-live).
// - The ticket list (#ticket-results) asks for everyone's presence and puts the initials of
//   whoever has a ticket open in its row (tr[data-reference]), with "Ana Souza está vendo este
//   chamado" as the title.
// Both survive the page's refreshes: #ticket-presence is one node kept across live.js and htmx
// replacing the part it sits in, and the badges are put back after rows are replaced.
(function () {
  "use strict";

  if (!window.ChamadosSocket) return;
  var HEARTBEAT_MS = 20000;
  var TYPING_IDLE_MS = 4000;
  var MAX_BADGES = 3;

  var article = document.querySelector("article.ticket[data-reference]");
  var ticket = article ? Number(article.dataset.reference) : null;
  var isList = !!document.getElementById("ticket-results");
  if (!ticket && !isList) return;

  var viewers = {}; // ticket reference -> [{id, name, initials, typing}], without oneself
  var typing = false;
  var typingTimer = null;
  var here = true; // false between pagehide and a pageshow from the back/forward cache
  var box = document.getElementById("ticket-presence"); // the one node shown, moved back in place

  // --- what this page says ---------------------------------------------------------

  function announce() {
    if (ticket && here) ChamadosSocket.send({ type: "presence", ticket: ticket, typing: typing });
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    typingTimer = null;
    if (typing) {
      typing = false;
      announce();
    }
  }

  function typed() {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
    if (!typing) {
      typing = true;
      announce();
    }
  }

  function inEditor(node) {
    return node && node.closest && node.closest("#comment-editor");
  }

  if (ticket) {
    document.addEventListener("input", function (event) { if (inEditor(event.target)) typed(); });
    document.addEventListener("trix-change", function (event) {
      if (inEditor(event.target) && event.target.contains(document.activeElement)) typed();
    });
    document.addEventListener("htmx:beforeRequest", function (event) {
      var elt = event.detail && event.detail.elt;
      if (elt && elt.closest && elt.closest("#comment-form")) stopTyping(); // the comment is being sent
    });
    setInterval(announce, HEARTBEAT_MS);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") announce(); // a hidden tab's timers may have slept
    });
    window.addEventListener("pagehide", function () {
      stopTyping();
      ChamadosSocket.send({ type: "presence", ticket: null });
      here = false;
    });
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) return;
      here = true;
      announce();
    });
  }

  ChamadosSocket.onOpen(function () {
    viewers = {}; // the server sends the whole picture again
    render();
    if (ticket) announce();
    if (isList) ChamadosSocket.send({ type: "presence_watch" });
  });

  ChamadosSocket.on("presence", function (frame) {
    if (frame.viewers && frame.viewers.length) viewers[frame.ticket] = frame.viewers;
    else delete viewers[frame.ticket];
    render();
  });

  // --- what it shows -----------------------------------------------------------------

  function names(people) {
    var list = people.map(function (person) { return person.name; });
    if (list.length < 2) return list.join("");
    return list.slice(0, -1).join(", ") + " e " + list[list.length - 1];
  }

  function line(className, text) {
    var paragraph = document.createElement("p");
    paragraph.className = className;
    paragraph.textContent = text;
    return paragraph;
  }

  // #ticket-presence sits in a part that live.js and htmx replace: put this page's own node
  // back where the fresh copy's empty one is, so what it says (and its live region) stays.
  function placeBox() {
    var current = document.getElementById("ticket-presence");
    if (!box) box = current;
    if (box && current && current !== box) current.replaceWith(box);
  }

  function renderTicket() {
    placeBox();
    if (!box) return;
    var others = viewers[ticket] || [];
    var writing = others.filter(function (person) { return person.typing; });
    var lines = [];
    if (others.length) {
      lines.push(line("presence-viewers", "Também neste chamado: " + others.map(function (p) { return p.name; }).join(", ")));
    }
    if (writing.length) {
      var verb = writing.length === 1 ? " está escrevendo…" : " estão escrevendo…";
      lines.push(line("presence-typing", names(writing) + verb));
    }
    var text = lines.map(function (p) { return p.textContent; }).join("\n");
    if (box.dataset.shown === text) return; // unchanged: the live region says nothing again
    box.dataset.shown = text;
    box.replaceChildren.apply(box, lines); // the region itself stays shown, empty: a live region
  }

  function badge(person) {
    var label = person.name + (person.typing ? " está escrevendo neste chamado" : " está vendo este chamado");
    var span = document.createElement("span");
    span.className = "presence-badge" + (person.typing ? " typing" : "");
    span.textContent = person.initials;
    span.title = label;
    span.setAttribute("role", "img");
    span.setAttribute("aria-label", label);
    return span;
  }

  function renderList() {
    document.querySelectorAll("#ticket-rows tr[data-reference]").forEach(function (row) {
      var people = viewers[row.dataset.reference] || [];
      var holder = row.querySelector(".presence-badges");
      if (!people.length) {
        if (holder) holder.remove();
        return;
      }
      if (!holder) {
        holder = document.createElement("span");
        holder.className = "presence-badges";
        var cell = row.cells[1] || row.cells[0];
        cell.appendChild(holder);
      }
      var badges = people.slice(0, MAX_BADGES).map(badge);
      if (people.length > MAX_BADGES) {
        var more = document.createElement("span");
        var rest = people.slice(MAX_BADGES);
        more.className = "presence-badge more";
        more.textContent = "+" + rest.length;
        more.title = names(rest) + (rest.length === 1 ? " está vendo este chamado" : " estão vendo este chamado");
        more.setAttribute("role", "img");
        more.setAttribute("aria-label", more.title);
        badges.push(more);
      }
      holder.replaceChildren.apply(holder, badges);
    });
  }

  function render() {
    if (ticket) renderTicket();
    if (isList) renderList();
  }

  // Parts replaced by live.js (live:refreshed) or by htmx (a status change, a filter, a page).
  ["live:refreshed", "htmx:afterSwap", "htmx:oobAfterSwap", "htmx:afterSettle"].forEach(function (name) {
    document.addEventListener(name, render);
  });
})();
