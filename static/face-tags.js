/* A photo's box tags (templates/_macros.html, face_boxes) moved off the other faces: the tags are in page pixels
   and the boxes in the photo's, so on a phone a 27 px face of a group photo is shown 19 px wide under a tag 25 px
   tall, and a neighbour's tag ("Mina") can hide it. Each tag, in the photo's order, takes the first of its places
   that hides least of the other boxes and covers least of the tags placed before it and of what lies outside the
   photo: where the page put it (above its box, or inside it at the photo's top), under its box, inside its box's
   top, above it. Placed again whenever the photo's shown size changes; without scripts the tags stay where the
   page put them. */
(function () {
  "use strict";
  var ABOVE = { rect: "-1.6em", text: "-.45em" }, INSIDE = { rect: "0", text: "1.15em" };

  function overlap(a, b) {
    var width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    var height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return width > 0 && height > 0 ? width * height : 0;
  }

  function setPlace(tag, place) {
    tag.setAttribute("y", place.y);
    tag.querySelector("rect").setAttribute("y", place.rect);
    tag.querySelector("text").setAttribute("y", place.text);
  }

  function placesOf(tag, box, photoHeight) {
    var top = (100 * box.y.baseVal.value / photoHeight).toFixed(2) + "%";
    var bottom = (100 * (box.y.baseVal.value + box.height.baseVal.value) / photoHeight).toFixed(2) + "%";
    var rect = tag.querySelector("rect"), text = tag.querySelector("text");
    var asDrawn = { y: tag.getAttribute("y"), rect: rect.getAttribute("y"), text: text.getAttribute("y") };
    return [asDrawn, { y: bottom, rect: INSIDE.rect, text: INSIDE.text },
            { y: top, rect: INSIDE.rect, text: INSIDE.text }, { y: top, rect: ABOVE.rect, text: ABOVE.text }];
  }

  function area(rect) { return rect.width * rect.height; }

  // how much a tag at tagRect hides: the share of each other box it covers (half a small face is worse than a
  // corner of a cat's box around it), and the share of itself over the tags placed before it or outside the photo
  function cost(tagRect, boxes, tags, photo) {
    var own = Math.max(area(tagRect), 1), covered = (own - overlap(tagRect, photo)) / own;
    boxes.forEach(function (box) { covered += overlap(tagRect, box) / Math.max(area(box), 1); });
    tags.forEach(function (tag) { covered += overlap(tagRect, tag) / own; });
    return covered;
  }

  function placeTags(frame) {
    var photo = frame.querySelector("svg:first-child");
    var boxes = Array.prototype.slice.call(photo.querySelectorAll(".face-box rect.line"));
    var tags = frame.querySelectorAll(".overlay .face-tag");
    if (boxes.length !== tags.length || boxes.length < 2) return;
    if (!frame.tagPlaces) {  // the page's places, kept: a later placing starts from them, not from its own
      frame.tagPlaces = Array.prototype.map.call(tags, function (tag, index) {
        return placesOf(tag, boxes[index], photo.viewBox.baseVal.height);
      });
    }
    var photoRect = photo.getBoundingClientRect(), boxRects = boxes.map(function (box) {
      return box.getBoundingClientRect();
    });
    var placed = [];
    Array.prototype.forEach.call(tags, function (tag, index) {
      var others = boxRects.filter(function (_, other) { return other !== index; });
      var best = null;
      frame.tagPlaces[index].forEach(function (place) {
        setPlace(tag, place);
        var tagRect = tag.querySelector("rect").getBoundingClientRect(), covered = cost(tagRect, others, placed, photoRect);
        if (best === null || covered < best.covered - 0.01) best = { place: place, covered: covered, rect: tagRect };
      });
      setPlace(tag, best.place);
      placed.push(best.rect);
    });
  }

  function start() {
    document.querySelectorAll(".photo-frame").forEach(function (frame) {
      placeTags(frame);
      if (window.ResizeObserver) new ResizeObserver(function () { placeTags(frame); }).observe(frame);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
