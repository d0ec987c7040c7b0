// Polls the analysis JSON while a video is queued or being analysed, updates the
// progress bar, and reloads the page when the result (or a failure) is ready.
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job) { return; }
  var bar = document.getElementById("job-progress");
  var percent = document.getElementById("job-percent");
  var state = document.getElementById("job-state");
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
        bar.value = value;
        percent.textContent = value + "% done";
        state.textContent = analysis.status === "queued" ? "Waiting in the queue" : "Analysing the video";
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
