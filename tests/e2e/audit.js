// What a person sees on the page, measured in the browser (an axe-style audit, for tests/e2e/test_layout.py).
// Evaluating this defines window.moodlensAudit with two checks:
//   page(minFontPx): {scrollWidth, innerWidth, cutOff, texts, marks}; texts and marks list what fails WCAG 2.1
//     contrast (text 4.5:1, large text and chart marks 3:1) or, for text, is smaller than minFontPx;
//   focus(): the focused element's outline (style, width) and its contrast with what is around it.
() => {
  const MARKS = ".bar, .trend-chart rect[class^=emo-], .timeline-chart .line, .calendar rect[class^=emo-], .swatch:not(.empty-day)";

  const parse = (value) => {
    const match = /rgba?\(([^)]+)\)/.exec(value || "");
    if (!match) return null;
    const parts = match[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const over = (top, bottom) => ({  // `top` composited over an opaque `bottom`
    r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1,
  });
  const luminance = (c) => {
    const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  };
  const contrast = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  const hex = (c) => "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const opacity = (element) => {
    let product = 1;
    for (let e = element; e && e.nodeType === 1; e = e.parentElement) product *= parseFloat(getComputedStyle(e).opacity);
    return product;
  };
  const isSvgShape = (e) => e instanceof SVGGeometryElement;
  const fillOf = (e) => {
    const fill = parse(getComputedStyle(e).fill);
    if (fill) fill.a *= parseFloat(getComputedStyle(e).fillOpacity);
    return fill && fill.a > 0 ? fill : null;
  };

  // The opaque colour behind an HTML element: its and its ancestors' background colours, composited.
  const cssBackground = (element) => {
    const layers = [];
    for (let e = element; e && e.nodeType === 1; e = e.parentElement) {
      if (e instanceof SVGElement && !(e instanceof SVGSVGElement)) continue;
      const colour = parse(getComputedStyle(e).backgroundColor);
      if (colour && colour.a > 0) { layers.push(colour); if (colour.a >= 1) break; }
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), { r: 255, g: 255, b: 255, a: 1 });
  };
  // What lies under the point (x, y) below `element`: an SVG shape's fill, else the CSS background there.
  const backgroundAt = (element, x, y, skip) => {
    const stack = document.elementsFromPoint(x, y);
    for (const below of stack.slice(stack.indexOf(element) + 1)) {
      if (below === element || element.contains(below) || skip(below)) continue;
      if (isSvgShape(below)) { const fill = fillOf(below); if (fill) return over(fill, cssBackground(below)); continue; }
      if (below instanceof SVGElement && !(below instanceof SVGSVGElement)) continue;
      return cssBackground(below);
    }
    return cssBackground(element.parentElement);
  };
  const visible = (e) => e.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })
    && e.getClientRects().length > 0;

  const inScrollBox = (element) => {  // a box that scrolls sideways on its own shows all of it
    for (let e = element.parentElement; e && e !== document.body; e = e.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(e).overflowX)) return true;
    }
    return false;
  };

  const pageAudit = (minFontPx) => {
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      const words = node.textContent.trim();
      if (!words || element.closest("script, style, title, option, noscript, .skip-link") || !visible(element)) continue;
      const style = getComputedStyle(element);
      const inSvg = element instanceof SVGElement;
      const scale = inSvg ? Math.min(element.getScreenCTM().a, element.getScreenCTM().d) : 1;
      const size = parseFloat(style.fontSize) * scale;
      const colour = parse(inSvg ? style.fill : style.color);
      colour.a *= opacity(element);
      const box = inSvg ? element.getBoundingClientRect() : (() => {
        const range = document.createRange(); range.selectNodeContents(node); return range.getBoundingClientRect();
      })();
      const background = inSvg
        ? backgroundAt(element, box.x + box.width / 2, box.y + box.height / 2, (e) => e.tagName === "text")
        : cssBackground(element);
      const ratio = contrast(over(colour, background), background);
      const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
      if (ratio < (large ? 3 : 4.5) || size < minFontPx) {
        texts.push({ text: words.slice(0, 40), size: +size.toFixed(1), ratio: +ratio.toFixed(2),
                     colour: hex(over(colour, background)), background: hex(background) });
      }
    }

    const marks = [];
    for (const mark of document.querySelectorAll(MARKS)) {
      if (!visible(mark)) continue;
      const box = mark.getBoundingClientRect();
      const line = mark.matches(".timeline-chart .line");  // a stroked path: a flat one still shows
      if (line ? box.width === 0 && box.height === 0 : box.width === 0 || box.height === 0) continue;
      let colour, x = box.x + box.width / 2, y = box.y + box.height / 2;
      if (line) {  // a point on the line, not the middle of its box
        const start = mark.getPointAtLength(0);
        const point = new DOMPoint(start.x, start.y).matrixTransform(mark.getScreenCTM());
        colour = parse(getComputedStyle(mark).stroke); x = point.x; y = point.y;
      } else {
        colour = isSvgShape(mark) ? fillOf(mark) : parse(getComputedStyle(mark).backgroundColor);
      }
      colour.a *= opacity(mark);
      const background = backgroundAt(mark, x, y, (e) => e.matches(MARKS) || e.tagName === "text");
      const ratio = contrast(over(colour, background), background);
      if (ratio < 3) {
        marks.push({ mark: (mark.getAttribute("class") || mark.tagName), ratio: +ratio.toFixed(2),
                     colour: hex(over(colour, background)), background: hex(background) });
      }
    }

    // the screen's width: a phone's (a mobile context's) innerWidth grows to hold a page that overflows; the layout
    // viewport (the root's clientWidth) stays the device's width
    const width = Math.min(innerWidth, document.documentElement.clientWidth);
    const cutOff = [...document.querySelectorAll(".card, section, table, svg, img")]
      .filter((e) => visible(e) && !e.closest("details:not([open])") && !inScrollBox(e))
      .filter((e) => e.getBoundingClientRect().right > width + 0.5)
      .map((e) => `${e.tagName.toLowerCase()}.${e.getAttribute("class") || ""}`);
    return { scrollWidth: document.scrollingElement.scrollWidth, innerWidth: width, cutOff, texts, marks };
  };

  const focusAudit = () => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    const ring = parse(style.outlineColor);
    const background = cssBackground(element.parentElement);
    return { element: `${element.tagName.toLowerCase()} ${(element.textContent || element.name || "").trim().slice(0, 30)}`,
             style: style.outlineStyle, width: parseFloat(style.outlineWidth),
             ratio: +contrast(over(ring, background), background).toFixed(2), colour: hex(ring),
             background: hex(background) };
  };
  window.moodlensAudit = { page: pageAudit, focus: focusAudit };
}
