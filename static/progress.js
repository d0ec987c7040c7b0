// Polls the analysis JSON while a video is queued or being analysed, updates the
// progress bar, and reloads the page when the result (or a failure) is ready. Its words come translated from the
// page (data-messages on #job, JSON; "{percent}" marks the value). The bar's spoken value (aria-valuetext) is the
// visible text; screen readers are told (#job-said) the state and the figure as each quarter of the progress is
// reached, not every second's figure.
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job) { return; }
  var bar = document.getElementById("job-progress");
  var percent = document.getElementById("job-percent");
  var state = document.getElementById("job-state");
  var said = document.getElementById("job-said");
  var words = JSON.parse(job.dataset.messages);
  var lastStage = "";
  function say(heading, value, done) {
    var stage = heading + Math.floor(value / 25);
    if (stage !== lastStage) { lastStage = stage; said.textContent = heading + ": " + done; }
  }
  function poll() {
    fetch(job.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (analysis) {
        if (analysis.status === "done" || analysis.status === "failed") {
          bar.value = 100;
          window.location.reload();
          return;
        }
        var value = Math.round((analysis.progress || 0) * 100);
        var done = words.done.replace("{percent}", value + "%");
        bar.value = value;
        bar.setAttribute("aria-valuetext", done);
        percent.textContent = done;
        state.textContent = analysis.status === "queued" ? words.queued : words.running;
        say(state.textContent, value, done);
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
