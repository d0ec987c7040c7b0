// Where the keyboard starts on a page that answers an action: the first field with an error (its message is read
// with it), else the first message the action left at the top, or on the card a page is opened at ("#face-2": "Saved"
// of its "Who is this?"), since a screen reader skips a message that is already on the page when it loads; a video's
// result that its progress page reloaded into (progress.js), at its heading (the reload dropped the focus to the
// page's top). Other pages keep the browser's start.
(function () {
  "use strict";
  var anchored = document.querySelector("main");
  if (window.location.hash) {
    try {
      anchored = document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
    } catch (malformed) {  // "#100%": no card of ours
      anchored = null;
    }
  }
  var finished = false;  // the page a progress page became once its video was analysed (progress.js)
  try {
    finished = window.sessionStorage.getItem("moodlens.finished:" + window.location.pathname) !== null;
    window.sessionStorage.removeItem("moodlens.finished:" + window.location.pathname);
  } catch (off) { /* storage off: the browser's start */ }
  var target = document.querySelector("main [aria-invalid=true]")
    || (anchored && anchored.querySelector(anchored.matches("main") ? ":scope > [data-flashed]" : "[data-flashed]"))
    || (finished ? document.querySelector("main h1") : null);
  if (!target || (document.activeElement && document.activeElement !== document.body)) { return; }
  if (!target.matches("input, select, textarea, button")) { target.setAttribute("tabindex", "-1"); }
  if (window.location.hash && document.readyState !== "complete") {  // the browser's scroll to the anchor, once
    window.addEventListener("load", function () {  // the page has loaded, moves the focus to the page: after it
      window.setTimeout(function () { target.focus(); }, 0);
    });
  } else {
    target.focus();
  }
})();
// Messages an action left on a page that progress.js then reloaded come back where they were (at the top, or on
// their card, after its subject form), once, after the keyboard's start is chosen: the reload keeps the reader's
// place on the page.
(function () {
  "use strict";
  var key = "moodlens.flashes:" + window.location.pathname + window.location.search;
  var kept;
  try {
    kept = JSON.parse(window.sessionStorage.getItem(key) || "[]");
    window.sessionStorage.removeItem(key);
  } catch (unreadable) { return; }
  var main = document.querySelector("main");
  if (!main || document.querySelector("main [data-flashed]")) { return; }  // the page has fresh messages
  var top = main.querySelector(":scope > .zone-switch");
  kept.forEach(function (message) {
    var card = message.card ? document.getElementById(message.card) : null;
    if (message.card && !card) { return; }  // its card is gone
    var shown = document.createElement("p");
    shown.className = message.className;
    shown.setAttribute("role", message.role || "status");
    shown.setAttribute("data-flashed", "");
    shown.textContent = message.text;
    if (card) {  // where its card's form put it: after the subject form and the species link
      var after = card.querySelectorAll(
        ":scope > form.assign, :scope > .dismissed, :scope > .also-assigned, :scope > .species-fix");
      if (after.length) { after[after.length - 1].after(shown); } else { card.appendChild(shown); }
    } else {
      main.insertBefore(shown, top ? top.nextSibling : main.firstChild);
      top = shown;
    }
  });
})();
// A page that answers a POST (a form sent back to correct) is kept in the history as a plain visit of its address:
// Back to it, once the corrected form went through, showed the browser's "Confirm Form Resubmission" instead.
(function () {
  "use strict";
  if (document.body.hasAttribute("data-answers-a-post") && window.history.replaceState) {
    window.history.replaceState(window.history.state, "", window.location.href);
  }
})();
