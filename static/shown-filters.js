// A form marked data-shows-page says which filters the page on screen was made with. Coming back to the page (the
// browser's back button, its page cache or its form restore) put back the choices made before leaving it, so the form
// named one list and showed another: it is set to the page's own values again.
// Its emotion select, marked data-emotion-lists, offers the emotions of the kind of subject chosen in its "Who" select
// (each option's data-kind: a dog's model has no "disgust"; "Everyone", the user's models'), relisted as soon as
// another is chosen, not only once the form is applied; an emotion already chosen stays listed, as the server lists it.
(function () {
  "use strict";

  function relister(form) {
    var emotion = form.querySelector("select[data-emotion-lists]");
    var subject = form.elements.namedItem("subject");
    if (!emotion || !subject) { return function () {}; }
    var offered = JSON.parse(emotion.getAttribute("data-emotion-lists"));
    var lists = offered.lists, names = offered.names;
    var shown = emotion.getAttribute("data-shown");
    function relist(kept) {  // kept: the emotion to keep chosen (the page's own, when the page is shown again)
      var chosen = typeof kept === "string" ? kept : emotion.value;
      var who = subject.options[subject.selectedIndex];
      var labels = (lists[(who && who.getAttribute("data-kind")) || ""] || lists[""]).slice();
      if (chosen && labels.indexOf(chosen) < 0) { labels.push(chosen); }
      while (emotion.options.length > 1) { emotion.remove(1); }
      labels.forEach(function (label) {
        emotion.add(new Option(names[label], label, label === shown, label === chosen));
      });
    }
    subject.addEventListener("change", function () { relist(); });
    return function () { relist(shown); };
  }

  var forms = Array.prototype.map.call(document.querySelectorAll("form[data-shows-page]"), function (form) {
    return {form: form, showPage: relister(form)};  // the page's own subject's emotions, its own chosen
  });
  window.addEventListener("pageshow", function () {
    forms.forEach(function (shown) {
      shown.form.reset();
      shown.showPage();
    });
  });
})();
