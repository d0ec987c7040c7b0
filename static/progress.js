// Polls a background job's status while it is queued or running, and reloads the page once it is over (a result,
// a failure, or nothing left to wait for): a video's analysis on its progress page (#job, the analysis JSON), and
// on a result page the signing of its faces (.checking-faces, the signatures' status), whose "Looks like Ana?"
// suggestions then show, and on a video's page the reading of a track its owner set to a dog (.reading-frames), whose
// emotions then show. On the progress page its words come translated from the page (data-messages on #job,
// JSON; "{percent}" marks the value). The bar's spoken value (aria-valuetext) is the visible text; screen readers
// are told (#job-said) the state at once when it changes, and the figure when it reaches a new tenth (10%, 20%...),
// at most every ANNOUNCE_MS, so the status follows the bar without a new figure to hear every second. A run
// interrupted on the server starts again from the beginning: the bar going back shows #job-restarted, which says so.
// The messages the last action left ("Saved: Cat 1 is now Dog 1.") outlive the reload: kept for focus.js to show again;
// a progress page that becomes its result tells focus.js to start the keyboard at the result's heading.
(function () {
  "use strict";
  var ANNOUNCE_MS = 3000;
  function keepFlashes() {
    var kept = [];
    document.querySelectorAll("main > [data-flashed], main .card > [data-flashed]").forEach(function (message) {
      var card = message.parentElement.closest(".card");
      kept.push({ card: card ? card.id : "", className: message.className, role: message.getAttribute("role"),
                  text: message.textContent });
    });
    if (!kept.length) { return; }
    try {
      window.sessionStorage.setItem("moodlens.flashes:" + window.location.pathname + window.location.search,
                                    JSON.stringify(kept));
    } catch (full) { /* storage off or full: they go with the reload */ }
  }
  function watch(statusUrl, update, over) {
    function poll() {
      fetch(statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (response.status === 429 || response.status >= 500) { throw new Error(response.status); }  // try later
          return response.json();
        })
        .then(function (job) {
          if (job.status !== "queued" && job.status !== "running") {
            keepFlashes();
            if (over) { over(); }
            window.location.reload();
            return;
          }
          update(job);
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 500);
  }
  function watchAnalysis(job) {
    var bar = document.getElementById("job-progress");
    var percent = document.getElementById("job-percent");
    var state = document.getElementById("job-state");
    var said = document.getElementById("job-said");
    var words = JSON.parse(job.dataset.messages);
    var told = { heading: "", tenth: -1, at: 0 };
    var last = { value: bar.value, status: job.dataset.status };  // a bar going back, or a run queued again: interrupted, restarted
    function say(heading, value, done) {
      var tenth = Math.floor(value / 10), now = Date.now();
      if (heading !== told.heading || (tenth !== told.tenth && now - told.at >= ANNOUNCE_MS)) {
        told = { heading: heading, tenth: tenth, at: now };
        said.textContent = heading + ": " + done;
      }
    }
    watch(job.dataset.statusUrl, function (analysis) {
      var value = Math.round((analysis.progress || 0) * 100);
      var done = words.done.replace("{percent}", value + "%");
      if (value < last.value || (last.status === "running" && analysis.status === "queued")) {
        document.getElementById("job-restarted").hidden = false;
      }
      last = { value: value, status: analysis.status };
      bar.value = value;
      bar.setAttribute("aria-valuetext", done);
      percent.textContent = done;
      state.textContent = analysis.status === "queued" ? words.queued : words.running;
      say(state.textContent, value, done);
      document.title = words.titles[analysis.status] || document.title;  // the tab says what the page says
    }, function () {  // the result replaces the page: the keyboard starts at its heading (focus.js), not at the top
      try { window.sessionStorage.setItem("moodlens.finished:" + window.location.pathname, "1"); } catch (off) { /* none */ }
    });
  }
  var job = document.getElementById("job");
  if (job) { watchAnalysis(job); }
  document.querySelectorAll(".checking-faces, .reading-frames[data-status-url]").forEach(function (waiting) {
    watch(waiting.dataset.statusUrl, function () {});
  });
}());
