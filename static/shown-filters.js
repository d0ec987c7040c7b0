// A form marked data-shows-page says which filters the page on screen was made with. Coming back to the page (the
// browser's back button, its page cache or its form restore) put back the choices made before leaving it, so the form
// named one list and showed another: it is set to the page's own values again.
(function () {
  "use strict";
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-shows-page]").forEach(function (form) { form.reset(); });
  });
})();
