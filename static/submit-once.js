// A form marked data-submit-once is sent once: a double click on "Analyse" uploaded the photo twice. Its submit
// buttons are disabled while the page waits and say data-busy-label; coming back to the page (the browser's back
// button) gives them back.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-submit-once]");
  forms.forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) { return; }  // not sent (a file over the limits: upload-size.js)
      form.querySelectorAll("[type=submit]").forEach(function (button) {
        button.setAttribute("data-label", button.value);
        button.disabled = true;
        if (form.dataset.busyLabel) { button.value = form.dataset.busyLabel; }
      });
    });
  });
  window.addEventListener("pageshow", function () {
    forms.forEach(function (form) {
      form.querySelectorAll("[type=submit][data-label]").forEach(function (button) {
        button.disabled = false;
        button.value = button.getAttribute("data-label");
      });
    });
  });
})();
