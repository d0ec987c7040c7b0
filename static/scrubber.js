// Shows the video frame at the time chosen on the range input.
(function () {
  "use strict";
  var slider = document.getElementById("scrub");
  if (!slider) { return; }
  var frame = document.getElementById("scrub-frame");
  var label = document.getElementById("scrub-time");
  var pending = null;
  slider.addEventListener("input", function () {
    label.textContent = Number(slider.value).toFixed(1) + " s";
    window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      frame.src = slider.dataset.frameUrl + "?t=" + encodeURIComponent(slider.value);
    }, 120);
  });
}());
