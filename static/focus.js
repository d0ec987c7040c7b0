// Where the keyboard starts on a page that answers an action: the first field with an error (its message is read
// with it), else the first message the action left at the top (a screen reader skips a message that is already on
// the page when it loads). A page opened at an anchor ("#face-2": the action's answer is there) and other pages keep
// the browser's start.
(function () {
  "use strict";
  var target = document.querySelector("main [aria-invalid=true]")
    || (window.location.hash ? null : document.querySelector("main > [data-flashed]"));
  if (!target || (document.activeElement && document.activeElement !== document.body)) { return; }
  if (!target.matches("input, select, textarea, button")) { target.setAttribute("tabindex", "-1"); }
  target.focus();
})();
