// Where the keyboard starts on a page that answers an action: the first field with an error (its message is read
// with it), else the first message the action left (a screen reader skips a message that is already on the page
// when it loads). Other pages keep the browser's start, at the top.
(function () {
  "use strict";
  var target = document.querySelector("main [aria-invalid=true]") || document.querySelector("main > .flash:not([hidden])");
  if (!target || (document.activeElement && document.activeElement !== document.body)) { return; }
  if (!target.matches("input, select, textarea, button")) { target.setAttribute("tabindex", "-1"); }
  target.focus();
})();
