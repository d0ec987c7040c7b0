// The "Copy token" button of a text shown once (a new API token): shown only where this script runs; copies with
// the Clipboard API where the page may (HTTPS, localhost), else selects the text and copies the old way, and says
// in its status line whether it worked (if not, the text is left selected to copy by hand).
(function () {
  "use strict";
  var row = document.querySelector("[data-copy-row]");
  if (!row) { return; }
  var button = row.querySelector("[data-copy]");
  var status = row.querySelector("[role=status]");
  var field = document.getElementById(button.getAttribute("data-copy"));

  function say(worked) {  // a failed copy has left the token selected (copyBySelecting) to copy by hand
    status.textContent = status.getAttribute(worked ? "data-copied" : "data-not-copied");
  }

  function copyBySelecting() {
    field.focus();
    field.select();
    try { return document.execCommand("copy"); } catch (error) { return false; }
  }

  button.addEventListener("click", function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { say(true); }, function () { say(copyBySelecting()); });
    } else {
      say(copyBySelecting());
    }
  });
  row.hidden = false;
})();
