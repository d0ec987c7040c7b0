// "Why?" buttons: start the explanation through the JSON API, show its progress, then its heat maps.
// Without scripts the form posts to the server, which starts the work and reloads the page.
(function () {
  "use strict";
  function figure(image, subject) {
    var figure = document.createElement("figure");
    var img = document.createElement("img");
    img.src = image.url;
    img.width = 224;
    img.height = 224;
    img.alt = "Heat map over " + subject + ": " + image.title;
    var caption = document.createElement("figcaption");
    caption.textContent = image.title;
    figure.appendChild(img);
    figure.appendChild(caption);
    return figure;
  }
  function watch(section, form) {
    var state = form.querySelector(".why-state");
    var bar = form.querySelector("progress");
    var button = form.querySelector("button");
    var token = form.querySelector("input[name=csrf_token]").value;
    function show(result) {
      if (result.status === "done") {
        var images = section.querySelector(".why-images");
        result.images.forEach(function (image) { images.appendChild(figure(image, section.dataset.subject)); });
        section.querySelector(".why-hint").hidden = false;
        form.remove();
        return;
      }
      if (result.status !== "queued" && result.status !== "running") {  // failed, lost, or an error reply
        state.textContent = result.error || "The explanation was interrupted. Please try again.";
        bar.hidden = true;
        button.disabled = false;
        return;
      }
      bar.hidden = false;
      bar.value = Math.round((result.progress || 0) * 100);
      state.textContent = "Computing the explanation… " + bar.value + "%";
      window.setTimeout(poll, 600);
    }
    function request(method) {
      return fetch(section.dataset.statusUrl, {
        method: method, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": token }
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return response.ok ? body : { status: "failed", error: body.error || "The server refused: " + response.status };
        });
      });
    }
    function poll() {
      request("GET").then(show).catch(function () { window.setTimeout(poll, 2000); });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      state.textContent = "Starting…";
      request("POST").then(show).catch(function () {
        state.textContent = "The server could not be reached. Please try again.";
        button.disabled = false;
      });
    });
    if (state.textContent.indexOf("Computing") === 0) { button.disabled = true; poll(); }
  }
  document.querySelectorAll("section.why").forEach(function (section) {
    var form = section.querySelector("form");
    if (form) { watch(section, form); }
  });
}());
