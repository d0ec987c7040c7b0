// A form marked data-submit-once is sent once: a double click on "Analyse" uploaded the photo twice. Its submit
// buttons say data-busy-label while the page waits, and so does a status line a screen reader reads; they keep the
// keyboard's focus (aria-disabled, not disabled, which dropped it to the page). Coming back to the page (the browser's
// back button) gives them back.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-submit-once]");
  var statusLines = new Map();
  forms.forEach(function (form) {
    var said = document.createElement("p");
    said.className = "visually-hidden";
    said.setAttribute("role", "status");
    form.appendChild(said);
    statusLines.set(form, said);
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) { return; }  // not sent (a file over the limits: upload-size.js)
      if (form.hasAttribute("data-sent")) { event.preventDefault(); return; }
      form.setAttribute("data-sent", "");
      form.querySelectorAll("[type=submit]").forEach(function (button) {
        button.setAttribute("data-label", button.value);
        button.setAttribute("aria-disabled", "true");
        if (form.dataset.busyLabel) { button.value = form.dataset.busyLabel; }
      });
      said.textContent = form.dataset.busyLabel || "";
    });
  });
  window.addEventListener("pageshow", function () {
    forms.forEach(function (form) {
      form.removeAttribute("data-sent");
      statusLines.get(form).textContent = "";
      form.querySelectorAll("[type=submit][data-label]").forEach(function (button) {
        button.removeAttribute("aria-disabled");
        button.value = button.getAttribute("data-label");
      });
    });
  });
})();
