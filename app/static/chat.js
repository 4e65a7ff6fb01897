// Chamados live chat: one websocket per tab to /ws/chat, for staff and for the portal.
// - the ticket page's chat panel (#chat) follows its ticket from the last message it shows;
//   in the portal the panel says data-side="customer" (the person at the computer);
// - the staff widget (#chat-widget) and the portal's "Falar com o suporte" entry are re-fetched
//   with htmx ("chat:sessions") when the server says chats changed;
// - in the message box Enter sends and Shift+Enter breaks the line.
// The socket reconnects with backoff and resumes from the last message id, so nothing is missed.
(function () {
  "use strict";

  var socket = null;
  var backoff = 500;

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function activePanel() { return document.querySelector('#chat[data-active="1"]'); }

  function lastId(panel) {
    var items = panel.querySelectorAll(".chat-live li[data-id]");
    var shown = items.length ? Number(items[items.length - 1].dataset.id) : 0;
    return Math.max(shown, Number(panel.dataset.lastId || 0));
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function follow() {
    var panel = activePanel();
    if (panel) send({ type: "subscribe", ticket: Number(panel.dataset.ticket), lastId: lastId(panel) });
    if (panel && Number(panel.dataset.unread) > 0) markRead(panel);
  }

  function markRead(panel) {
    if (document.visibilityState !== "visible") return;
    panel.dataset.unread = "0";
    fetch(panel.dataset.readUrl, { method: "POST", headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin" })
      .then(function () { htmx.trigger(document.body, "chat:sessions"); });
  }

  // A message from the other side: staff read the machine's, the portal reads support's.
  function fromOtherSide(panel, message) {
    return panel.dataset.side === "customer" ? !message.isFromMachine : message.isFromMachine;
  }

  // In the install's time zone, as the server renders the others (not the browser's).
  function formatTime(iso) {
    var date = new Date(iso);
    var zone = document.body.dataset.timezone || undefined;
    return date.toLocaleDateString("pt-BR", { day: "2-digit", month: "2-digit", timeZone: zone }) + " " +
      date.toLocaleTimeString("pt-BR", { hour: "2-digit", minute: "2-digit", timeZone: zone });
  }

  function append(panel, message) {
    var list = panel.querySelector(".chat-live");
    if (!list || list.querySelector('li[data-id="' + message.id + '"]')) return; // shown already
    var item = document.createElement("li");
    item.dataset.id = message.id;
    item.className = "chat-message " + (message.isFromMachine ? "from-machine" : "from-agent");
    var meta = document.createElement("p");
    meta.className = "meta";
    var author = document.createElement("strong");
    author.textContent = message.authorName;
    var time = document.createElement("time");
    time.dateTime = message.createdAt;
    time.textContent = formatTime(message.createdAt);
    meta.append(author, " · ", time);
    item.appendChild(meta);
    if (message.body) {
      var body = document.createElement("p");
      body.className = "chat-body";
      body.textContent = message.body;
      item.appendChild(body);
    }
    (message.attachments || []).forEach(function (file) {
      var line = document.createElement("p");
      line.className = "chat-file";
      var link = document.createElement("a");
      link.href = "/anexos/" + file.id;
      link.textContent = file.name;
      line.appendChild(link);
      item.appendChild(line);
    });
    list.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  }

  // Other scripts (live.js) share this tab's one socket: ChamadosSocket.on("change", fn),
  // ChamadosSocket.onOpen(fn) (also on every reconnect), ChamadosSocket.send(frame).
  var handlers = {};
  var openers = [];
  window.ChamadosSocket = {
    send: send,
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    onOpen: function (fn) {
      openers.push(fn);
      if (socket && socket.readyState === WebSocket.OPEN) fn();
    }
  };

  function handle(frame) {
    (handlers[frame.type] || []).forEach(function (fn) { fn(frame); });
    var panel = activePanel();
    if (frame.type === "message") {
      if (panel && Number(panel.dataset.ticket) === frame.ticket) {
        append(panel, frame.message);
        if (fromOtherSide(panel, frame.message)) markRead(panel);
      }
    } else if (frame.type === "sessions") {
      htmx.trigger(document.body, "chat:sessions");
    } else if (frame.type === "session") {
      var any = document.getElementById("chat");
      if (any && Number(any.dataset.ticket) === frame.ticket) {
        htmx.ajax("GET", any.dataset.url, { target: "#chat", swap: "outerHTML" });
      }
      htmx.trigger(document.body, "chat:sessions");
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/chat");
    socket.onopen = function () {
      backoff = 500;
      send({ type: "watch" });
      follow();
      openers.forEach(function (fn) { fn(); });
    };
    socket.onmessage = function (event) { handle(JSON.parse(event.data)); };
    socket.onclose = function () {
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  // The panel is replaced by htmx (start, send, end): follow the new one, and keep typing
  // where one was typing. (A history restore has no target: nothing to follow then.)
  var typing = false;
  document.addEventListener("htmx:beforeRequest", function (event) {
    typing = document.activeElement && document.activeElement.id === "chat-body";
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var detail = event.detail || {};
    var isPanel = function (node) { return node && node.id === "chat"; };
    if (!isPanel(detail.elt) && !isPanel(detail.target)) return;
    follow();
    var box = document.getElementById("chat-body");
    if (typing && box) box.focus();
    typing = false;
  });

  // Enter sends, Shift+Enter breaks the line (not while an input method is composing).
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || box.id !== "chat-body") return;
    event.preventDefault();
    var form = box.form;
    var files = form.querySelector('input[type="file"]');
    if (!box.value.trim() && !(files && files.files.length)) return; // nothing to send
    form.requestSubmit();
  });
  document.addEventListener("visibilitychange", function () {
    var panel = activePanel();
    if (panel && Number(panel.dataset.unread) > 0) markRead(panel);
  });
  document.addEventListener("DOMContentLoaded", connect);
})();
