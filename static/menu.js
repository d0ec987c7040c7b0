// The phone's header menu (base.html: a <details> whose sibling is the nav it shows) closes as menus do: on Escape,
// the keyboard going back to its button, and on a tap or click anywhere outside the button and the nav. Without
// scripts the button still opens and closes it.
(function () {
  "use strict";
  var menu = document.querySelector(".site-header .menu");
  var nav = menu && menu.nextElementSibling;
  if (!menu || !nav) { return; }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !menu.open) { return; }
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    if (menu.open && !menu.contains(event.target) && !nav.contains(event.target)) { menu.open = false; }
  });
})();
