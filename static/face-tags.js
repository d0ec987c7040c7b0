/* A photo's box tags (templates/_macros.html, face_boxes) moved off the faces: the tags are in page pixels and the
   boxes in the photo's, so on a phone a 27 px face of a group photo is shown 19 px wide under a tag 25 px tall, and a
   neighbour's tag ("Mina") can hide it. Each tag, in the photo's order, takes the first of its places that hides
   least: where the page put it (above its box, or inside it at the photo's top), under its box, then the other of
   those two. What a place hides: the share of each box it covers, its own box's too where that is more than
   OWN_SHARE_SEEN (a tag inside a face as small as itself hides that face); the share of itself over the tags placed
   before it; twice the share of itself outside the photo (over the page's text). The places are worked out from one
   reading of the boxes' and tags' rectangles, and each tag written once; again whenever the photo's shown size
   changes. Without scripts the tags stay where the page put them. */
(function () {
  "use strict";
  var ABOVE = { rect: "-1.6em", text: "-.45em" }, INSIDE = { rect: "0", text: "1.15em" };
  var OUTSIDE_WEIGHT = 2;
  var OWN_SHARE_SEEN = 0.3;  // a tag inside the top of a large face hides no more of it than its forehead

  function overlap(a, b) {
    var width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    var height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return width > 0 && height > 0 ? width * height : 0;
  }

  function area(rect) { return Math.max(rect.width * rect.height, 1); }

  function at(tagRect, top) {  // the tag's rectangle moved to `top`
    return { left: tagRect.left, right: tagRect.right, top: top, bottom: top + tagRect.height,
             width: tagRect.width, height: tagRect.height };
  }

  function hidden(rect, ownBox, boxes, placed, photo) {
    var own = area(rect), covered = OUTSIDE_WEIGHT * (own - overlap(rect, photo)) / own;
    boxes.forEach(function (box) {
      var share = overlap(rect, box) / area(box);
      covered += box !== ownBox || share > OWN_SHARE_SEEN ? share : 0;
    });
    placed.forEach(function (tag) { covered += overlap(rect, tag) / own; });
    return covered;
  }

  // a tag's places in the order tried, where the page drew it first: each with its attributes and its top on the page
  function placesOf(box, boxRect, tagRect, photoHeight, drawnAbove) {
    var top = (100 * box.y.baseVal.value / photoHeight).toFixed(2) + "%";
    var bottom = (100 * (box.y.baseVal.value + box.height.baseVal.value) / photoHeight).toFixed(2) + "%";
    var above = { y: top, look: ABOVE, top: boxRect.top - tagRect.height };
    var inside = { y: top, look: INSIDE, top: boxRect.top };
    var under = { y: bottom, look: INSIDE, top: boxRect.bottom };
    return drawnAbove ? [above, under, inside] : [inside, under, above];
  }

  function write(tag, place) {
    tag.setAttribute("y", place.y);
    tag.querySelector("rect").setAttribute("y", place.look.rect);
    tag.querySelector("text").setAttribute("y", place.look.text);
  }

  function placeTags(frame) {
    var photo = frame.querySelector("svg:first-child");
    var boxes = Array.prototype.slice.call(photo.querySelectorAll(".face-box rect.line"));
    var tags = Array.prototype.slice.call(frame.querySelectorAll(".overlay .face-tag"));
    if (boxes.length !== tags.length || boxes.length < 2) return;
    if (!frame.drawnAbove) {  // where the page drew each tag, read once: a later placing starts from it, not its own
      frame.drawnAbove = tags.map(function (tag) { return tag.querySelector("rect").getAttribute("y") === ABOVE.rect; });
    }
    var photoRect = photo.getBoundingClientRect(), photoHeight = photo.viewBox.baseVal.height;
    var boxRects = boxes.map(function (box) { return box.getBoundingClientRect(); });
    var tagRects = tags.map(function (tag) { return tag.querySelector("rect").getBoundingClientRect(); });
    var placed = [];
    var chosen = tags.map(function (tag, index) {
      var best = null;
      placesOf(boxes[index], boxRects[index], tagRects[index], photoHeight, frame.drawnAbove[index])
        .forEach(function (place) {
          var rect = at(tagRects[index], place.top), cost = hidden(rect, boxRects[index], boxRects, placed, photoRect);
          if (best === null || cost < best.cost - 0.01) best = { place: place, cost: cost, rect: rect };
        });
      placed.push(best.rect);
      return best.place;
    });
    tags.forEach(function (tag, index) { write(tag, chosen[index]); });
  }

  function sizeOf(frame) { return frame.clientWidth + "x" + frame.clientHeight; }

  function start() {
    document.querySelectorAll(".photo-frame").forEach(function (frame) {
      var size = sizeOf(frame);
      placeTags(frame);  // at once; the observer's first call, at the same size, places nothing again
      if (window.ResizeObserver) {
        new ResizeObserver(function () {
          if (sizeOf(frame) !== size) { size = sizeOf(frame); placeTags(frame); }
        }).observe(frame);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
