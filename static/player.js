// The video player: plays the original with each track's box and current emotion drawn over it, and keeps the
// time slider, the frame strip and the "changes" links in step with it. The tracks come from the page
// (<script type="application/json" id="player-tracks">: per track, [t, x1, y1, x2, y2, emotion, whole percent,
// certainty]: a reading is labelled "unsure, perhaps ...", "probably ..." or plainly, as on a photo's page);
// boxes are drawn in % of the frame and labels in page pixels, so they stay readable at any size.
// When the browser cannot play the file's format, the slider shows the analysed frame at the chosen time.
// Without scripts, the slider's form and the links reload the page at the chosen time (?t=SECONDS).
// Its words come translated from the page (the stage's data-messages, JSON; "{name}" marks a value).
(function () {
  "use strict";
  var stage = document.querySelector(".stage");
  if (!stage) { return; }
  var SVG = "http://www.w3.org/2000/svg";
  var tracks = JSON.parse(document.getElementById("player-tracks").textContent);
  var words = JSON.parse(stage.dataset.messages);
  var decimal = new Intl.NumberFormat(document.documentElement.lang, { minimumFractionDigits: 1, maximumFractionDigits: 2 });
  var tenths = new Intl.NumberFormat(document.documentElement.lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var overlay = stage.querySelector("svg.overlay");
  var frame = document.getElementById("scrub-frame");
  var slider = document.getElementById("scrub");
  var timeLabel = document.getElementById("scrub-time");
  // the time shown: the page's (?t=, a frame link's moment) to the hundredth, where the slider's value is held to its
  // step (a link to 5.28 s showed 5.25 s, and moved the video there)
  var shownAt = Number(slider.getAttribute("value"));
  var now = document.getElementById("player-now");
  var note = document.getElementById("player-note");
  var tolerance = Number(stage.dataset.tolerance);
  var until = Number(stage.dataset.until);  // the last analysed moment stands for the clip up to here (its end, or 0)
  var width = Number(stage.dataset.width) / 100, height = Number(stage.dataset.height) / 100;
  var video = null;  // the <video>, once the browser has shown it can play the file
  var drawn = null;  // which points the overlay shows now
  var pendingFrame = null;
  var STRAY_LINES = 2.5;  // see `strayed`
  var MARGIN = 4;  // px between a label (its outline is .3em wide, half of it outside the letters) and the edge
  var CONTROL_BAR = 60;  // px at the video's bottom kept free for its own controls (Chromium's are about 56 px)

  // Every analysed moment, in order, and each track's point at each moment it was seen.
  var moments = Array.from(new Set([].concat.apply([], tracks.map(function (track) {
    return track.points.map(function (point) { return point[0]; });
  })))).sort(function (a, b) { return a - b; });
  tracks.forEach(function (track) {
    track.at = new Map(track.points.map(function (point) { return [point[0], point]; }));
  });

  function momentAt(t) {  // the analysed moment nearest t (the earlier of two as near), if within the tolerance (or past the last, up to until)
    var low = 0, high = moments.length - 1;
    if (high < 0) { return null; }
    while (low < high) {  // the first moment at or after t
      var middle = (low + high) >> 1;
      if (moments[middle] < t) { low = middle + 1; } else { high = middle; }
    }
    var best = low > 0 && t - moments[low - 1] <= Math.abs(moments[low] - t) ? low - 1 : low;
    var holds = Math.abs(moments[best] - t) <= tolerance || (best === moments.length - 1 && moments[best] < t && t <= until);
    return holds ? moments[best] : null;
  }

  function svg(name, attributes, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function percent(value, scale) { return (value / scale).toFixed(2) + "%"; }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (match, name) { return name in values ? values[name] : match; });
  }

  function emotion(label) { return words.emotions[label] || label; }

  function playing() { return Boolean(video) && !video.paused && !video.ended; }

  // a moment to the hundredth (frames 0.25 s apart), but to the tenth while the video plays: "1.2 s", "1.25 s" and
  // "1.3 s" in turn made the label jump in width and flicker
  function seconds(t) { return fill(words.seconds, { seconds: (playing() ? tenths : decimal).format(t) }); }

  function reading(point) {  // point[7]: "unsure", "probably" or "sure"
    var wording = { unsure: words.unsure, probably: words.probably }[point[7]];
    return wording ? fill(wording, { emotion: emotion(point[5]) }) : emotion(point[5]);
  }

  function tag(track, point) {  // on the video: short, so neighbouring boxes' labels do not collide
    return track.tag + (point[5] ? ": " + reading(point) : "");
  }

  function describe(track, point) {  // under the video, in full
    return track.title + " " + (point[5] ? reading(point) + " (" + point[6] + "%)" : words.seen);
  }

  function keepInside(label, room) {  // a label longer than the room right of its box moves left, and one wider
    // than the player is set smaller, so that the label and its dark outline end MARGIN inside the player's edges
    label.removeAttribute("dx");
    label.removeAttribute("transform");
    label.style.fontSize = "";
    var box = label.getBBox(), width = room - 2 * MARGIN;
    if (box.width > width) {
      label.style.fontSize = parseFloat(window.getComputedStyle(label).fontSize) * width / box.width + "px";
      box = label.getBBox();
    }
    var shift = Math.max(MARGIN - box.x, Math.min(0, room - MARGIN - box.x - box.width));
    if (shift) { label.setAttribute("dx", shift); }
  }

  function fit() {  // again whenever the player's size or its font changes: what fitted before may not now
    var labels = overlay.querySelectorAll("text"), frame = overlay.getBoundingClientRect();
    if (!labels.length || !frame.width) { return; }
    var room = frame.height - (video ? CONTROL_BAR : 0);
    function place(wording) {
      labels.forEach(function (label) { label.textContent = label.dataset[wording]; keepInside(label, frame.width); });
      labels.forEach(function (label, index) { settle(label, index, labels, room); });
    }
    place("full");
    if (labels.length > 1 && Array.prototype.some.call(labels, strayed)) { place("short"); }
  }

  // A label set smaller to fit, or moved more than STRAY_LINES lines off its box (two lines, to clear a neighbour's
  // long label on the line between, still read as its box's; the half line is for rounding): on a phone three faces' labels stacked at the frame's
  // edge, far from their boxes and over the picture. Then every label is the track's number alone, its words in the
  // line under the video.
  function strayed(label) {
    return label.style.fontSize !== "" || Math.abs(Number(label.dataset.shift)) > STRAY_LINES * label.getBBox().height;
  }

  function holds(outer, inner) {  // two {x, y, width, height} areas
    return outer.x <= inner.x && outer.y <= inner.y && inner.x + inner.width <= outer.x + outer.width &&
      inner.y + inner.height <= outer.y + outer.height;
  }

  function overlaps(a, b) {  // two {x, y, width, height} areas
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  }

  function settle(label, index, labels, room) {  // off the labels drawn before it, and where it can be off the other
    // boxes, a line at a time: away from its box, else inside the top of its box, else on through it; MARGIN inside
    // the room (the player above its control bar), or as near its top as the label fits
    var box = label.getBBox(), own = label.parentNode.querySelector("rect");
    var step = box.height * (label.getAttribute("dy").charAt(0) === "-" ? -1 : 1);
    var before = Array.prototype.slice.call(labels, 0, index).map(function (other) {
      var bounds = other.getBBox(), moved = Number(other.dataset.shift || 0);
      return { x: bounds.x, y: bounds.y + moved, width: bounds.width, height: bounds.height };
    });
    var ownBounds = own.getBBox();
    var boxes = Array.prototype.filter.call(overlay.querySelectorAll("rect"), function (rect) { return rect !== own; })
      .map(function (rect) { return rect.getBBox(); })
      .filter(function (area) { return !holds(area, ownBounds); });  // a box its own lies in: a face over a pet's body
    function inside(shift) { return box.y + shift >= MARGIN && box.y + shift + box.height <= room - MARGIN; }
    function off(areas) {
      return function (shift) {
        var moved = { x: box.x, y: box.y + shift, width: box.width, height: box.height };
        return inside(shift) && !areas.some(function (area) { return overlaps(moved, area); });
      };
    }
    var shifts = [0];
    for (var lines = 1; lines <= 8; lines += 1) { shifts.push(lines * step); }
    shifts.push(ownBounds.y + MARGIN - box.y);
    for (lines = 1; lines * box.height <= room; lines += 1) { shifts.push(-lines * step); }
    var shift = [off(before.concat(boxes)), off(before), inside].reduce(function (found, test) {
      return found === undefined ? shifts.find(test) : found;  // a crowded frame: apart from the labels, or inside
    }, undefined);
    if (shift === undefined) { shift = Math.max(MARGIN - box.y, Math.min(0, room - MARGIN - box.y - box.height)); }
    label.dataset.shift = shift;
    if (shift) { label.setAttribute("transform", "translate(0 " + shift + ")"); }
  }

  function draw(t) {
    var moment = momentAt(t);  // boxes from one analysed frame: only the tracks seen in it
    var shown = tracks.map(function (track) { return moment === null ? null : track.at.get(moment) || null; });
    var key = shown.map(function (point) { return point ? point[0] : "-"; }).join(",");
    if (key !== drawn) {
      drawn = key;
      overlay.replaceChildren();
      shown.forEach(function (point, index) {
        if (!point) { return; }
        var group = svg("g", { "class": "face-box emo-" + (point[5] || "none") });
        var below = point[2] / height < 10;  // a box at the top edge: its label goes under it
        group.appendChild(svg("rect", { x: percent(point[1], width), y: percent(point[2], height),
          width: percent(point[3] - point[1], width), height: percent(point[4] - point[2], height) }));
        var label = svg("text", { x: percent(point[1], width), y: percent(below ? point[4] : point[2], height),
          dy: below ? "1.1em" : "-.35em", "class": "overlay-label" });
        label.dataset.full = tag(tracks[index], point);
        label.dataset.short = tracks[index].tag;
        group.appendChild(label);
        overlay.appendChild(group);
      });
      fit();
    }
    var seen = shown.map(function (point, index) { return point ? describe(tracks[index], point) : null; })
      .filter(Boolean);
    now.textContent = fill(words.at, { time: seconds(t), seen: seen.join(", ") || words.nobody });
    slider.setAttribute("aria-valuetext", now.textContent);  // what a screen reader says as the slider moves
  }

  function showTime(t) {
    shownAt = t;
    slider.value = t;
    timeLabel.textContent = seconds(t);
    draw(t);
  }

  function showFrame(t) {
    window.clearTimeout(pendingFrame);
    pendingFrame = window.setTimeout(function () {
      // to the hundredth, as the page writes its frames' addresses ("2.00"): one frame, one address to cache
      frame.src = stage.dataset.frameUrl + "?t=" + encodeURIComponent(shownAt.toFixed(2));
    }, 120);
  }

  function seek(t) {
    showTime(t);
    if (video) { video.currentTime = t; } else { showFrame(t); }
  }

  function follow() {  // redraw on every painted frame while the video plays
    showTime(video.currentTime);
    if (playing()) { window.requestAnimationFrame(follow); }
  }

  function usePlayer(candidate) {
    video = candidate;
    video.hidden = false;
    frame.hidden = true;
    fit();  // the labels leave room for the video's controls now
    video.currentTime = shownAt;
    video.addEventListener("play", function () { window.requestAnimationFrame(follow); });
    ["seeked", "timeupdate", "pause"].forEach(function (name) {
      video.addEventListener(name, function () { showTime(video.currentTime); });
    });
  }

  slider.addEventListener("input", function () { seek(Number(slider.value)); });
  slider.form.addEventListener("submit", function (event) { event.preventDefault(); seek(Number(slider.value)); });
  slider.form.querySelector("button").hidden = true;  // the slider moves the player at once
  var told = document.createElement("p");  // what a "Go to" link moved to, for a screen reader (the focus stays)
  told.className = "visually-hidden";
  told.setAttribute("role", "status");
  now.after(told);
  document.querySelectorAll("a[data-t]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      seek(Number(link.dataset.t));
      told.textContent = "";  // the same link again: a changed text is said again
      told.textContent = now.textContent;
      stage.scrollIntoView({ block: "nearest" });
    });
  });

  var candidate = document.createElement("video");
  candidate.hidden = true;
  candidate.controls = true;
  candidate.preload = "auto";
  candidate.playsInline = true;
  candidate.setAttribute("aria-label", words.video);
  candidate.addEventListener("loadeddata", function () { usePlayer(candidate); }, { once: true });
  candidate.addEventListener("error", function () {
    candidate.remove();
    note.textContent = words.cannotPlay;
    note.hidden = false;
  }, { once: true });
  stage.insertBefore(candidate, overlay);
  candidate.src = stage.dataset.videoUrl;
  draw(shownAt);
  if (window.ResizeObserver) { new window.ResizeObserver(fit).observe(overlay); }  // a phone turned, a wider window
  if (document.fonts) { document.fonts.ready.then(fit); }  // labels measured before their font had loaded
}());
