// Chamados live screens: follows the tenant's change feed over the tab's socket (chat.js) and
// refreshes the parts of the page that show what changed, without a reload.
//
// - The page says where it started: <body data-feed-seq="812">. On every (re)connect the socket
//   asks for the changes after the last number seen, so nothing is missed and nothing repeats.
// - A part of the page that can change carries data-live="topics" (space-separated): "tickets"
//   (any ticket), "ticket:42", "devices" (any device), "machine:7". When a change touches a
//   topic, the page's own URL is fetched once and each such part is replaced by its fresh copy
//   (same id). Parts with data-live-unless-typing are left alone while someone types in them.
// - Rows (tr[data-reference]) of changed tickets are highlighted briefly; ticked checkboxes stay.
(function () {
  "use strict";

  var body = document.body;
  if (!window.ChamadosSocket || !body.dataset.feedSeq) return;
  var lastSeq = Number(body.dataset.feedSeq);
  var dueTopics = {};
  var changedTickets = {};
  var timer = null;
  var DEBOUNCE_MS = 250;

  function topicsOf(frame) {
    var topics = [];
    if (frame.ticket) topics.push("tickets", "ticket:" + frame.ticket);
    if (frame.machine) topics.push("machine:" + frame.machine);
    if (/^(device|alert)\./.test(frame.kind)) topics.push("devices");
    return topics;
  }

  function liveParts() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live][id]"));
  }

  function wanted(part) {
    return part.dataset.live.split(/\s+/).some(function (topic) { return dueTopics[topic]; });
  }

  function beingTyped(part) {
    if (!part.hasAttribute("data-live-unless-typing")) return false;
    if (part.contains(document.activeElement) && document.activeElement !== document.body) return true;
    var fields = part.querySelectorAll("textarea, input[type=text], input[type=hidden][id$=body], trix-editor");
    return Array.prototype.some.call(fields, function (field) {
      var value = field.tagName === "TRIX-EDITOR" ? field.textContent : field.value;
      return value && value.trim() !== "";
    });
  }

  function ticked(part) {
    var values = {};
    part.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) { values[box.value] = true; });
    return values;
  }

  function replace(part, fresh) {
    var keep = ticked(part);
    part.replaceWith(fresh);
    fresh.querySelectorAll("input[type=checkbox]").forEach(function (box) {
      if (keep[box.value]) box.checked = true;
    });
    fresh.querySelectorAll("tr[data-reference]").forEach(function (row) {
      if (changedTickets[row.dataset.reference]) row.classList.add("live-changed");
    });
    if (window.htmx) htmx.process(fresh);
    fresh.dispatchEvent(new CustomEvent("live:refreshed", { bubbles: true }));
  }

  function refresh() {
    timer = null;
    var parts = liveParts().filter(wanted).filter(function (part) { return !beingTyped(part); });
    dueTopics = {};
    var changed = changedTickets;
    changedTickets = {};
    if (!parts.length) return;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        changedTickets = changed;
        var page = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (part) {
          var fresh = page.getElementById(part.id);
          if (fresh && document.body.contains(part) && !beingTyped(part)) {
            replace(part, document.importNode(fresh, true));
          }
        });
        changedTickets = {};
      });
  }

  function onChange(frame) {
    if (frame.seq <= lastSeq) return;
    lastSeq = frame.seq;
    topicsOf(frame).forEach(function (topic) { dueTopics[topic] = true; });
    if (frame.ticket) changedTickets[frame.ticket] = true;
    document.dispatchEvent(new CustomEvent("live:change", { detail: frame }));
    if (!timer) timer = setTimeout(refresh, DEBOUNCE_MS);
  }

  ChamadosSocket.on("change", onChange);
  ChamadosSocket.on("changes", function (frame) { frame.items.forEach(onChange); });
  // How far the feed went past what this screen may hear: a reconnect asks from there.
  ChamadosSocket.on("feed_position", function (frame) { lastSeq = Math.max(lastSeq, frame.seq); });
  ChamadosSocket.on("feed_reset", function () {
    var notice = document.getElementById("live-stale");
    if (notice) notice.hidden = false;
  });
  ChamadosSocket.onOpen(function () { ChamadosSocket.send({ type: "feed", after: lastSeq }); });
})();
