// A file over the upload limits is refused here, before it is sent: a 12 MB photo was uploaded whole (seconds of a
// phone's data) only to hear "Photos are limited to 10 MB." The server checks again, and decides by the content, not
// by the name: a file the browser cannot tell the type of is left to it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-photo-bytes]");
  if (!form) { return; }
  var input = form.querySelector("input[type=file]");

  function reasonItIsTooLarge(file) {
    if (/^image\//.test(file.type) && file.size > Number(form.dataset.photoBytes)) {
      return form.dataset.photoTooLarge;
    }
    return file.size > Number(form.dataset.videoBytes) ? form.dataset.videoTooLarge : null;
  }

  function show(reason) {
    var field = input.closest(".field");
    var error = document.getElementById("file-error");
    if (!error) {
      error = document.createElement("p");
      error.className = "field-error";
      error.id = "file-error";
      error.setAttribute("role", "alert");
      field.appendChild(error);
    }
    error.textContent = reason;
    field.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "file-error file-hint");
    input.focus();
  }

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    var reason = file ? reasonItIsTooLarge(file) : null;
    if (reason) {
      event.preventDefault();  // submit-once.js leaves a form whose sending was stopped as it is
      show(reason);
    }
  });
})();
