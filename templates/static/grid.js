// Grid explorer: clicks on cells and headers edit the selection in the URL, then the
// server-rendered question panel is fetched and swapped in. No data goes into markup here:
// the panel is HTML escaped by the server's templates, and the selection travels as text.
(function () {
  "use strict";
  var table = document.getElementById("grid");
  var panel = document.getElementById("panel");
  if (!table || !panel) { return; }
  var slices = Array.prototype.map.call(table.querySelectorAll("thead th[data-s]"), function (th) {
    return th.getAttribute("data-s");
  });

  function toggle(params, key, value) {
    var all = params.getAll(key);
    var at = all.indexOf(value);
    params.delete(key);
    if (at >= 0) { all.splice(at, 1); } else { all.push(value); }
    all.forEach(function (v) { params.append(key, v); });
    return at < 0;
  }

  // Links that change one view setting (palette, raw values, page) keep the rest of the
  // view: after the selection changes in place, their targets follow it.
  function relink(params) {
    Array.prototype.forEach.call(document.querySelectorAll("a[data-param]"), function (a) {
      var next = new URLSearchParams(params.toString());
      next.set(a.getAttribute("data-param"), a.getAttribute("data-value"));
      a.setAttribute("href", location.pathname + "?" + next.toString());
    });
  }

  function refresh(params) {
    var query = params.toString();
    var url = location.pathname + (query ? "?" + query : "");
    history.pushState({ grid: true }, "", url);
    relink(params);
    panel.setAttribute("aria-busy", "true");
    return fetch(table.getAttribute("data-panel") + (query ? "?" + query : ""), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        panel.innerHTML = html; // server-rendered and escaped; no script inside
        panel.removeAttribute("aria-busy");
      })
      .catch(function () { location.reload(); });
  }

  table.addEventListener("click", function (event) {
    var target = event.target.closest("td, th");
    if (!target || !table.contains(target)) { return; }
    var params = new URLSearchParams(location.search);
    var on;
    if (target.tagName === "TD") {
      var header = target.parentElement.querySelector("th[data-t]");
      var slice = slices[target.cellIndex - 1];
      if (!header || slice === undefined) { return; }
      on = toggle(params, "cell", header.getAttribute("data-t") + ":" + slice);
    } else if (target.hasAttribute("data-t")) {
      on = toggle(params, "row", target.getAttribute("data-t"));
    } else if (target.hasAttribute("data-s")) {
      on = toggle(params, "col", target.getAttribute("data-s"));
    } else {
      return;
    }
    params.delete("page");
    target.classList.toggle("sel", on);
    refresh(params);
  });

  window.addEventListener("popstate", function () { location.reload(); });
})();
