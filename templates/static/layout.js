// Layout helpers for every page, no data from the page goes into markup here:
// 1. a wrapper that scrolls sideways (a table or drawing wider than the window) gets a
//    visible hint above it, so a cut-off column reads as "more to the right";
// 2. the sampled lattice drawing opens centred on its focus node, not scrolled to the left.
(function () {
  "use strict";
  var wrappers = document.querySelectorAll(".table-wrap, .graph-scroll, .chart-scroll");

  function hint(wrapper) {
    var before = wrapper.previousElementSibling;
    var has = before && before.classList.contains("scroll-hint");
    var scrolls = wrapper.scrollWidth > wrapper.clientWidth + 1;
    if (scrolls && !has) {
      var p = document.createElement("p");
      p.className = "scroll-hint";
      p.textContent = "Wider than the window: scroll sideways for the rest →";
      wrapper.parentNode.insertBefore(p, wrapper);
    } else if (!scrolls && has) {
      before.parentNode.removeChild(before);
    }
  }

  function centre() {
    var scroller = document.querySelector(".graph-scroll");
    var focus = scroller && scroller.querySelector(".node.current circle");
    if (!focus) { return; }
    var box = focus.getBoundingClientRect();
    var frame = scroller.getBoundingClientRect();
    scroller.scrollLeft += (box.left + box.width / 2) - (frame.left + scroller.clientWidth / 2);
  }

  function layout() { Array.prototype.forEach.call(wrappers, hint); }

  centre();
  layout();
  window.addEventListener("resize", layout);
})();
