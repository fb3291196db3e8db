/* NETboard phenotype timeline: one tab stop, arrow keys between its marks and cells.
 *
 * The SVG (templates/jinja2/patients/timeline.svg) gives its first band or mark tabindex 0 and
 * every other mark, badge, alert and cell tabindex -1, so Tab enters the timeline once and the
 * next Tab leaves it. Inside it:
 *
 *   ArrowLeft, ArrowRight   the previous / next mark or cell of the same row (lane or lesion row)
 *   ArrowUp, ArrowDown      the nearest mark or cell of the row above / below
 *   Home, End               the first / last of the row
 *
 * The focused part keeps tabindex 0 (a roving tab stop): Tab back into the timeline returns to
 * it. Each part names its values (aria-label, and its tooltip); the lesion table under the
 * timeline has them all in a table. Rows are found from where the parts are drawn, so the
 * script knows nothing of the layout. Keys it takes are not seen by other handlers (the
 * presentation mode's arrow keys turn pages elsewhere on the page). No framework.
 */
(function () {
  "use strict";
  if (window.netboardTimeline) { return; }
  window.netboardTimeline = true;

  var PART = "figure.timeline svg g[tabindex]";
  var SAME_ROW = 6; // px: centres this close vertically are on one row

  function centre(el) {
    var box = el.getBoundingClientRect();
    return { x: box.left + box.width / 2, y: box.top + box.height / 2 };
  }

  function parts(svg) {
    return Array.prototype.map.call(svg.querySelectorAll("g[tabindex]"), function (el) {
      return { el: el, at: centre(el) };
    });
  }

  function sameRow(all, y) {
    return all.filter(function (p) { return Math.abs(p.at.y - y) <= SAME_ROW; });
  }

  function nearestX(candidates, x) {
    var best = null;
    candidates.forEach(function (p) {
      if (!best || Math.abs(p.at.x - x) < Math.abs(best.at.x - x)) { best = p; }
    });
    return best;
  }

  function target(current, key) {
    var svg = current.ownerSVGElement;
    if (!svg) { return null; }
    var all = parts(svg).filter(function (p) { return p.el !== current; });
    var here = centre(current);
    var row = sameRow(all, here.y);
    var best = null;
    if (key === "ArrowRight" || key === "ArrowLeft") {
      var sign = key === "ArrowRight" ? 1 : -1;
      row.forEach(function (p) {
        var dx = (p.at.x - here.x) * sign;
        if (dx > 0.5 && (!best || dx < (best.at.x - here.x) * sign)) { best = p; }
      });
      return best;
    }
    if (key === "Home" || key === "End") {
      row.forEach(function (p) {
        if (!best || (key === "Home" ? p.at.x < best.at.x : p.at.x > best.at.x)) { best = p; }
      });
      var edge = best ? best.at.x : here.x;
      var beyond = key === "Home" ? edge >= here.x : edge <= here.x;
      return beyond ? null : best;
    }
    var down = key === "ArrowDown" ? 1 : -1;
    var nextY = null;
    all.forEach(function (p) {
      var dy = (p.at.y - here.y) * down;
      if (dy > SAME_ROW && (nextY === null || dy < (nextY - here.y) * down)) { nextY = p.at.y; }
    });
    return nextY === null ? null : nearestX(sameRow(all, nextY), here.x);
  }

  function rove(el) {
    var svg = el.ownerSVGElement;
    if (!svg) { return; }
    var before = svg.querySelectorAll('g[tabindex="0"]');
    for (var i = 0; i < before.length; i += 1) {
      if (before[i] !== el) { before[i].setAttribute("tabindex", "-1"); }
    }
    el.setAttribute("tabindex", "0");
  }

  var KEYS = { ArrowLeft: 1, ArrowRight: 1, ArrowUp: 1, ArrowDown: 1, Home: 1, End: 1 };

  document.addEventListener("keydown", function (event) {
    if (!KEYS[event.key] || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var current = event.target;
    if (!current || !current.matches || !current.matches(PART)) { return; }
    event.preventDefault();
    event.stopPropagation();
    var next = target(current, event.key);
    if (next) { next.el.focus(); }
  }, true);

  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches(PART)) { rove(el); }
  });
}());
