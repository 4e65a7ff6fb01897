// Trix (the comment and description editor) in Brazilian Portuguese.
// Trix 2 reads Trix.config.lang when it draws a toolbar, and defines its elements on a timer
// after its own script ran: this deferred script, right after trix's, changes the words in place
// before that. A toolbar drawn before (should the timer have won) is drawn again. The link
// dialog's two buttons share their words with the toolbar's buttons: they are named here.
(function () {
  "use strict";

  if (!window.Trix) return;
  var WORDS = {
    attachFiles: "Anexar arquivos",
    bold: "Negrito",
    bullets: "Lista",
    byte: "Byte",
    bytes: "Bytes",
    captionPlaceholder: "Adicione uma legenda…",
    code: "Código",
    heading1: "Título",
    indent: "Aumentar recuo",
    italic: "Itálico",
    link: "Link",
    numbers: "Lista numerada",
    outdent: "Diminuir recuo",
    quote: "Citação",
    redo: "Refazer",
    remove: "Remover",
    strike: "Tachado",
    undo: "Desfazer",
    unlink: "Desvincular",
    url: "URL",
    urlPlaceholder: "Digite uma URL…"
  };
  var english = Trix.config.lang.bold;
  Object.keys(WORDS).forEach(function (key) { Trix.config.lang[key] = WORDS[key]; });

  // A toolbar drawn in English gets the Portuguese words element by element. It is never
  // drawn again: Trix keeps its state in these elements (a hidden link dialog's URL field is
  // disabled, so the browser does not ask for it when the form is sent).
  function translateInPlace(toolbar) {
    var portuguese = document.createElement("div");
    portuguese.innerHTML = Trix.config.toolbar.getDefaultHTML();
    var KEYS = ["data-trix-attribute", "data-trix-action"];
    toolbar.querySelectorAll("button").forEach(function (button) {
      KEYS.forEach(function (key) {
        var value = button.getAttribute(key);
        if (!value) return;
        var twin = portuguese.querySelector("button[" + key + '="' + value + '"]');
        if (!twin) return;
        button.title = twin.title;
        button.textContent = twin.textContent;
      });
    });
    var url = toolbar.querySelector('input[name="href"]');
    var twinUrl = portuguese.querySelector('input[name="href"]');
    if (url && twinUrl) url.placeholder = twinUrl.placeholder;
  }

  function localize(toolbar) {
    if (!toolbar) return;
    var bold = toolbar.querySelector('[data-trix-attribute="bold"]');
    if (bold && bold.title === english) translateInPlace(toolbar);
    var confirm = toolbar.querySelector('[data-trix-dialog="href"] [data-trix-method="setAttribute"]');
    if (confirm) confirm.value = "Vincular";
    var remove = toolbar.querySelector('[data-trix-dialog="href"] [data-trix-method="removeAttribute"]');
    if (remove) remove.value = "Desvincular";
    var url = toolbar.querySelector('[data-trix-dialog="href"] input[name="href"]');
    if (url) url.setAttribute("aria-label", "URL do link");
  }

  document.addEventListener("trix-initialize", function (event) { localize(event.target.toolbarElement); });
  document.querySelectorAll("trix-toolbar").forEach(localize);
})();
