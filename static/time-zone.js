// The browser's IANA time zone ("Asia/Seoul"), so that days, weeks and times of day are counted on the user's own
// clock (services/clock.py): it fills the log-in and registration forms' hidden time_zone field, and, for a user
// whose account keeps another zone (a traveller who stays logged in), shows the offer to switch (base.html), unless
// the two zones keep the same time (an alias: "Asia/Calcutta", "Asia/Kolkata") or the user chose to keep theirs in
// this browser session.
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { return; }
  if (!zone) { return; }
  document.querySelectorAll("input[name='time_zone']").forEach(function (field) { field.value = zone; });

  // The zone's offsets across a year (its clock and daylight saving); null for a name this browser does not know.
  function offsets(name) {
    try {
      var format = new Intl.DateTimeFormat("en-US", { timeZone: name, timeZoneName: "longOffset" });
      return [0, 3, 6, 9].map(function (month) { return format.format(new Date(Date.UTC(2026, month, 15))); }).join();
    } catch (error) { return null; }
  }

  var offer = document.querySelector("form.zone-switch");
  if (!offer) { return; }
  var kept = "moodlens-zone-kept";
  var accountZone = offer.getAttribute("data-account-zone");
  var same = accountZone === zone || offsets(accountZone) === offsets(zone);
  var storage = null;
  try { storage = window.sessionStorage; } catch (error) { /* storage off: the offer shows on every page */ }
  if (same || (storage && storage.getItem(kept) === zone)) { return; }
  offer.querySelector(".device-zone").textContent = zone.replace(/_/g, " ");
  offer.querySelector("[data-keep]").addEventListener("click", function () {
    if (storage) { storage.setItem(kept, zone); }
    offer.hidden = true;
  });
  offer.hidden = false;
})();
