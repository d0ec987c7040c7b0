// The browser's IANA time zone ("Asia/Seoul"), so that days, weeks and times of day are counted on the user's own
// clock (services/clock.py): it fills the log-in and registration forms' hidden time_zone field, and, for a user
// whose account keeps another zone (a traveller who stays logged in), shows the offer to switch (base.html), unless
// the two zones keep the same clock all this year or the user chose to keep theirs in this browser session (a
// session cookie, which every tab shares).
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { return; }
  if (!zone) { return; }
  document.querySelectorAll("input[name='time_zone']").forEach(function (field) { field.value = zone; });

  // The zone's UTC offset on every day of this year, as text; null for a name this browser cannot read.
  function offsets(name) {
    try {
      var format = new Intl.DateTimeFormat("en-US", { timeZone: name, timeZoneName: "longOffset" });
      var year = new Date().getUTCFullYear();
      var days = [];
      for (var day = 0; day < 366; day += 1) { days.push(format.format(new Date(Date.UTC(year, 0, 1 + day, 12)))); }
      return days.join();
    } catch (error) { return null; }
  }

  // The zone in words, as the page names the account's ("Eastern Time", "한국 시간"), with its city: "Eastern Time
  // (New York)"; the id's city alone where this browser has no name for it.
  function inWords(name) {
    var city = name.split("/").pop().replace(/_/g, " ");
    try {
      var parts = new Intl.DateTimeFormat(document.documentElement.lang || undefined,
        { timeZone: name, timeZoneName: "longGeneric" }).formatToParts(new Date());
      for (var index = 0; index < parts.length; index += 1) {
        if (parts[index].type === "timeZoneName") { return parts[index].value + " (" + city + ")"; }
      }
    } catch (error) { /* an old browser: the city alone */ }
    return city;
  }

  var offer = document.querySelector("form.zone-switch");
  if (!offer) { return; }
  var kept = "moodlens_zone_kept=" + encodeURIComponent(zone);
  var accountZone = offer.getAttribute("data-account-zone");
  var accountOffsets = offsets(accountZone);
  var same = accountZone === zone || (accountOffsets !== null && accountOffsets === offsets(zone));
  if (same || document.cookie.split("; ").indexOf(kept) >= 0) { return; }
  offer.querySelector(".device-zone").textContent = inWords(zone);
  offer.querySelector("[data-keep]").addEventListener("click", function () {
    document.cookie = kept + "; path=/; SameSite=Lax";
    offer.hidden = true;
  });
  offer.hidden = false;
})();
