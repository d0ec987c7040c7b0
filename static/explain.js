// "Why?" buttons: start the explanation through the JSON API, show its progress, then its heat maps.
// Without scripts the form posts to the server, which starts the work and reloads the page. For screen readers and
// the keyboard: the button keeps the focus while the work runs (aria-disabled, not disabled, which dropped the focus
// to the page), the section's status line (outside the form, which goes when the maps come) says each quarter of
// the progress to screen readers rather than every poll (the bar shows it), then that the maps are ready, and the focus moves to them.
// The words come translated from the page (the section's data-messages, JSON; "{name}" marks a value): the
// API's own error text is English, so a failure is told in the page's words (a stored reason through the page's
// "reasons", English to translated; a refused request by its HTTP status: a stale page (400, its CSRF token no
// longer holds) asks for a reload, an analysis deleted meanwhile (404) is said to be gone, and for a user logged
// out meanwhile (401) the page reloads: the log-in page says why and brings them back here).
(function () {
  "use strict";
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (match, name) { return name in values ? values[name] : match; });
  }
  function listed(parts) {  // "the eyes and the mouth", "코·눈" (as web/i18n.py listed; a browser without it: commas)
    var lang = document.documentElement.lang || "en";
    if (lang.slice(0, 2) === "ko") { return parts.join("·"); }
    if (!window.Intl || !Intl.ListFormat) { return parts.join(", "); }
    return new Intl.ListFormat(lang, { type: "conjunction" }).format(parts);
  }
  function figure(image, subject, words) {
    var title = words[image.method] || image.title;
    var figure = document.createElement("figure");
    var img = document.createElement("img");
    img.src = image.url;
    img.width = 224;
    img.height = 224;
    var where = (image.brightest || []).map(function (region) { return words.regions[region]; }).filter(Boolean);
    img.alt = where.length ? fill(words.heatMapWhere, { face: subject, title: title, where: listed(where) })
      : fill(words.heatMap, { face: subject, title: title });
    var caption = document.createElement("figcaption");
    caption.textContent = title;
    figure.appendChild(img);
    figure.appendChild(caption);
    return figure;
  }
  function watch(section, form) {
    var state = section.querySelector(".why-state");
    var bar = form.querySelector("progress");
    var button = form.querySelector("button");
    var token = form.querySelector("input[name=csrf_token]").value;
    var words = JSON.parse(section.dataset.messages);
    var said = -1;  // the quarter of the progress the status line last said
    function busy(running) {
      if (running) { button.setAttribute("aria-disabled", "true"); } else { button.removeAttribute("aria-disabled"); }
    }
    function show(result) {
      if (result.status === "done") {
        var images = section.querySelector(".why-images");
        result.images.forEach(function (image) { images.appendChild(figure(image, section.dataset.subject, words)); });
        section.querySelector(".why-hint").hidden = false;
        var focused = form.contains(document.activeElement);
        form.remove();
        state.textContent = words.ready;
        if (focused) { images.focus(); }
        return;
      }
      if (result.refused === 401) {  // logged out meanwhile (another tab, an expired session): reloading the page
        window.location.reload();  // leads to the log-in page, which says why and brings the user back here
        return;
      }
      if (result.status !== "queued" && result.status !== "running") {  // failed, lost, or an error reply
        state.textContent = result.refused === 400 ? words.stale
          : result.refused === 404 ? words.gone
          : result.refused === 429 ? words.tooMany  // as many under way as one may have
          : result.refused ? fill(words.refused, { status: result.refused })
          : words.reasons[result.error] || words.interrupted;
        bar.hidden = true;
        busy(false);
        return;
      }
      bar.hidden = false;
      bar.value = Math.round((result.progress || 0) * 100);
      if (Math.floor(bar.value / 25) !== said) {  // the quarter said to screen readers only: shown beside the
        said = Math.floor(bar.value / 25);         // bar, "50%" under a bar two-thirds full looked wrong
        var quarter = document.createElement("span");
        quarter.className = "visually-hidden";
        quarter.textContent = " " + said * 25 + "%";
        state.textContent = words.computing;
        state.appendChild(quarter);
      }
      window.setTimeout(poll, 600);
    }
    function request(method) {
      return fetch(section.dataset.statusUrl, {
        method: method, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": token }
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return response.ok ? body : { status: "failed", refused: response.status };
        });
      });
    }
    function poll() {
      request("GET").then(show).catch(function () { window.setTimeout(poll, 2000); });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.getAttribute("aria-disabled")) { return; }  // already running
      busy(true);
      said = -1;
      state.textContent = words.starting;
      request("POST").then(show).catch(function () {
        state.textContent = words.unreachable;
        busy(false);
      });
    });
    if (state.textContent.indexOf(words.computing) === 0) { busy(true); poll(); }
  }
  document.querySelectorAll("section.why").forEach(function (section) {
    var form = section.querySelector("form");
    if (form) { watch(section, form); }
  });
}());
