// Fills the log-in and registration forms' hidden time_zone field with the browser's IANA time zone
// ("Asia/Seoul"), so that days, weeks and times of day are counted on the user's own clock (services/clock.py).
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { return; }
  document.querySelectorAll("input[name='time_zone']").forEach(function (field) { field.value = zone; });
})();
