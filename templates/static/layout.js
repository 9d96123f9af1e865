// Layout helpers for every page, no data from the page goes into markup here:
// 1. a wrapper that scrolls sideways (a table or drawing wider than the window, or on a phone a
//    data table that scrolls by itself) gets a visible hint above it, so a cut-off column reads as
//    "more to the right", and becomes a focusable region, so the keyboard can scroll it too;
// 2. the sampled lattice drawing opens centred on its focus node, not scrolled to the left;
// 3. the skip link moves the keyboard focus to the page's content, not only the view.
(function () {
  "use strict";
  var SCROLLERS = ".table-wrap, .graph-scroll, .chart-scroll, main table.data:not(.grid)";

  // A table scrolls by itself only where the phone rule makes it a block outside any scroll box.
  function isScroller(el) {
    if (el.tagName !== "TABLE") { return true; }
    return window.getComputedStyle(el).display === "block" &&
      !el.parentElement.closest(".table-wrap, .grid-wrap, .graph-scroll, .chart-scroll");
  }

  function hint(wrapper) {
    if (!isScroller(wrapper)) { return; }
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
    if (scrolls && !wrapper.hasAttribute("tabindex")) {
      wrapper.setAttribute("tabindex", "0");
      wrapper.setAttribute("data-scroll-focus", "1");
      if (!wrapper.hasAttribute("role")) { wrapper.setAttribute("role", "region"); }
      if (!wrapper.hasAttribute("aria-label")) { wrapper.setAttribute("aria-label", "scrollable content"); }
    } else if (!scrolls && wrapper.getAttribute("data-scroll-focus") === "1") {
      wrapper.removeAttribute("tabindex");
      wrapper.removeAttribute("data-scroll-focus");
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

  function layout() { Array.prototype.forEach.call(document.querySelectorAll(SCROLLERS), hint); }

  function skip(event) {
    var target = document.getElementById("content");
    if (!target) { return; }
    event.preventDefault();
    target.focus();
    target.scrollIntoView();
  }

  var skipLink = document.querySelector(".skip-link");
  if (skipLink) { skipLink.addEventListener("click", skip); }
  centre();
  layout();
  window.addEventListener("resize", layout);
})();
