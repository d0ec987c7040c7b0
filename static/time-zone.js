// The browser's IANA time zone ("Asia/Seoul"), so that days, weeks and times of day are counted on the user's own
// clock (services/clock.py): it fills the log-in and registration forms' hidden time_zone field, and, for a user
// whose account keeps another zone (a traveller who stays logged in, a zone saved on the account page), shows the
// offer to switch (base.html), unless the two zones keep the same clock all this year or the user chose to keep
// theirs in this browser session (a session cookie, which every tab shares).
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

  // This device's zone named as the page names the account's, in the page's language, by the server (GET
  // /time-zone/name: "Eastern Time (New York)", "미 동부 시간 (뉴욕)"); the id's city where the server cannot name it.
  function nameZone(name, url, show) {
    var city = name.split("/").pop().replace(/_/g, " ");
    fetch(url + "?zone=" + encodeURIComponent(name), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { name: city }; })
      .then(function (answer) { show(answer.name); }, function () { show(city); });
  }

  var offer = document.querySelector("form.zone-switch");
  if (!offer) { return; }
  var kept = "moodlens_zone_kept=" + encodeURIComponent(zone);
  var accountZone = offer.getAttribute("data-account-zone");
  var accountOffsets = offsets(accountZone);
  var same = accountZone === zone || (accountOffsets !== null && accountOffsets === offsets(zone));
  // A zone chosen on the account page, other than this device's, is this browser session's choice: not offered
  // back at once on the page that says it was saved.
  document.querySelectorAll("select[name='time_zone']").forEach(function (choice) {
    choice.form.addEventListener("submit", function () {
      if (choice.value !== zone) { document.cookie = kept + "; path=/; SameSite=Lax"; }
    });
  });
  if (same || document.cookie.split("; ").indexOf(kept) >= 0) { return; }
  offer.querySelector("[data-keep]").addEventListener("click", function () {
    document.cookie = kept + "; path=/; SameSite=Lax";
    offer.hidden = true;
  });
  nameZone(zone, offer.getAttribute("data-name-url"), function (words) {
    offer.querySelector(".device-zone").textContent = words;
    offer.hidden = false;
  });
})();
