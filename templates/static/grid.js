// Grid explorer: clicks (or Enter / Space on the focused cell) on cells and headers edit the
// selection in the URL, then the server-rendered question panel is fetched and swapped in.
// A big grid arrives as a window; scrolling or moving past its edge with the arrow keys
// fetches the next rows or slices from the JSON window endpoint. No data goes into markup
// here: cells are built with createElement / textContent / setAttribute, and the panel is
// HTML escaped by the server's templates.
(function () {
  "use strict";
  var table = document.getElementById("grid");
  var panel = document.getElementById("panel");
  if (!table || !panel) { return; }
  var readout = document.getElementById("readout");
  var wrap = table.parentElement;
  var head = table.tHead.rows[0];
  var body = table.tBodies[0];
  var STEP_ROWS = 64, STEP_SLICES = 32, EDGE_PX = 120;
  var win = {};
  ["r0", "r1", "c0", "c1", "rows", "slices"].forEach(function (k) {
    win[k] = parseInt(table.getAttribute("data-" + k), 10) || 0;
  });
  var seedsText = table.getAttribute("data-seeds") || "";
  // The server refused some parameters (named beside their controls) and drew their defaults:
  // the address drops them too, so clicks, windows and shared links carry only what is shown.
  var clean = table.getAttribute("data-clean-url");
  if (clean) { history.replaceState(history.state, "", clean); }
  var loading = null;
  var current = null;

  function sliceOf(td) { var th = head.cells[td.cellIndex]; return th ? th.getAttribute("data-s") : null; }
  function rowHeader(td) { return td.parentElement.cells[0]; }

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
    history.pushState({ grid: true }, "", location.pathname + (query ? "?" + query : ""));
    relink(params);
    panel.setAttribute("aria-busy", "true");
    return fetch(table.getAttribute("data-panel") + (query ? "?" + query : ""), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        panel.innerHTML = html; // server-rendered and escaped; no script inside
        panel.removeAttribute("aria-busy");
        panel.dispatchEvent(new CustomEvent("grid:panel"));
      })
      .catch(function () { location.reload(); });
  }

  function choose(target) {
    var params = new URLSearchParams(location.search);
    var on;
    if (target.tagName === "TD") {
      var header = rowHeader(target);
      var slice = sliceOf(target);
      if (!header || slice === null) { return; }
      on = toggle(params, "cell", header.getAttribute("data-t") + ":" + slice);
      setCurrent(target, false);
    } else if (target.hasAttribute("data-t")) {
      on = toggle(params, "row", target.getAttribute("data-t"));
    } else if (target.hasAttribute("data-s")) {
      on = toggle(params, "col", target.getAttribute("data-s"));
    } else {
      return;
    }
    target.classList.toggle("sel", on);
    refresh(params);
  }

  // ------------------------------------------------------------------ read-out
  function describe(td) {
    var th = rowHeader(td);
    var label = th.getAttribute("data-t");
    var size = label === "\u2205" ? 0 : label.length;
    var status = td.classList.contains("m") ? "missing" : td.classList.contains("f") ? "failed" : "stored";
    var parts = ["training set " + label + " (" + size + " unit" + (size === 1 ? "" : "s") + ")",
                 "slice " + sliceOf(td)];
    if (status === "stored") {
      parts.push("value " + (td.getAttribute("title") || td.textContent));
    } else {
      parts.push("no value");
    }
    if (seedsText) { parts.push(seedsText); }
    parts.push(status);
    return parts.join(" · ");
  }
  function show(td) { if (readout && td) { readout.textContent = describe(td); } }

  // ------------------------------------------------------------------ keyboard
  function setCurrent(td, focus) {
    if (current && current !== td) { current.setAttribute("tabindex", "-1"); }
    current = td;
    td.setAttribute("tabindex", "0");
    if (focus) { td.focus(); }
    show(td);
  }

  function move(td, dRow, dCol) {
    // A window may be on its way (scrolling fetched it): look again once it has landed.
    if (loading) { loading.then(function () { move(td, dRow, dCol); }); return; }
    var tr = td.parentElement;
    var r = tr.sectionRowIndex + dRow, c = td.cellIndex + dCol;
    var target = body.rows[r] && body.rows[r].cells[c];
    if (target && c >= 1) { setCurrent(target, true); return; }
    var dir = dRow > 0 ? "down" : dRow < 0 ? "up" : dCol > 0 ? "right" : "left";
    var rowAt = tr.sectionRowIndex, colAt = td.cellIndex;
    extend(dir).then(function (added) {
      if (!added) { return; }
      if (dir === "up") { rowAt += added; }
      if (dir === "left") { colAt += added; }
      var next = body.rows[rowAt + dRow] && body.rows[rowAt + dRow].cells[colAt + dCol];
      if (next) { setCurrent(next, true); }
    });
  }

  table.addEventListener("keydown", function (event) {
    var td = event.target;
    if (td.tagName !== "TD") { return; }
    var step = { ArrowDown: [1, 0], ArrowUp: [-1, 0], ArrowRight: [0, 1], ArrowLeft: [0, -1] }[event.key];
    if (step) {
      event.preventDefault();
      move(td, step[0], step[1]);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      choose(td);
    }
  });

  table.addEventListener("click", function (event) {
    var target = event.target.closest("td, th");
    if (target && table.contains(target)) { choose(target); }
  });
  table.addEventListener("mouseover", function (event) {
    var td = event.target.closest("td");
    if (td && table.contains(td)) { show(td); }
  });
  table.addEventListener("focusin", function (event) {
    if (event.target.tagName === "TD") { show(event.target); }
  });

  // ------------------------------------------------------------------ windows
  function fmt(x) {
    var s = x.toFixed(3);
    return /^-0\.0+$/.test(s) ? s.slice(1) : s;
  }

  function selection() {
    var params = new URLSearchParams(location.search);
    return { cells: params.getAll("cell"), rows: params.getAll("row"), cols: params.getAll("col"),
             layer: params.get("layer") };
  }

  function makeCell(data, i, j, label, chosen) {
    var td = document.createElement("td");
    var code = data.status[i][j];
    var cls = code === 0 ? "c" + data.buckets[i][j] : code === 2 ? "f" : "m";
    td.className = cls + (chosen.cells.indexOf(label + ":" + data.slices[j]) >= 0 ? " sel" : "");
    if (code === 0) {
      td.textContent = fmt(data.values[i][j]);
      if (data.half_width) {
        var hw = data.half_width[i][j];
        td.setAttribute("title", fmt(data.values[i][j]) + (hw === null ? "" : " \u00b1 " + fmt(hw)) +
                        " (n=" + data.n[i][j] + ")");
      }
    } else if (code === 2) {
      td.textContent = "fail";
    }
    td.setAttribute("tabindex", "-1");
    return td;
  }

  function makeRow(data, i, chosen) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    var label = data.labels[i];
    th.setAttribute("scope", "row");
    th.setAttribute("data-t", label);
    var sel = chosen.rows.indexOf(label) >= 0 || (chosen.layer !== null && String(data.sizes[i]) === chosen.layer);
    th.className = "k" + (data.sizes[i] % 2) + (sel ? " sel" : "");
    th.textContent = label;
    tr.appendChild(th);
    for (var j = 0; j < data.slices.length; j += 1) { tr.appendChild(makeCell(data, i, j, label, chosen)); }
    return tr;
  }

  function makeHeader(name, chosen) {
    var th = document.createElement("th");
    th.setAttribute("scope", "col");
    th.setAttribute("data-s", name);
    if (chosen.cols.indexOf(name) >= 0) { th.className = "sel"; }
    th.textContent = name;
    return th;
  }

  function label(id, a, b) {
    var el = document.getElementById(id);
    if (el) { el.textContent = (b > a ? a + 1 : 0) + "\u2013" + b; }
  }

  function apply(dir, data) {
    var chosen = selection();
    var i, j, added;
    if (dir === "down" || dir === "up") {
      var first = body.rows[0] || null, before = wrap.scrollHeight;
      for (i = 0; i < data.labels.length; i += 1) {
        var tr = makeRow(data, i, chosen);
        if (dir === "down") { body.appendChild(tr); } else { body.insertBefore(tr, first); }
      }
      if (dir === "up") { wrap.scrollTop += wrap.scrollHeight - before; win.r0 = data.r0; } else { win.r1 = data.r1; }
      added = data.labels.length;
    } else {
      var at = dir === "right" ? null : head.cells[1];
      var beforeW = wrap.scrollWidth;
      for (j = 0; j < data.slices.length; j += 1) { head.insertBefore(makeHeader(data.slices[j], chosen), at); }
      for (i = 0; i < data.labels.length; i += 1) {
        var row = body.rows[i];
        var anchor = dir === "right" ? null : row.cells[1];
        for (j = 0; j < data.slices.length; j += 1) {
          row.insertBefore(makeCell(data, i, j, data.labels[i], chosen), anchor);
        }
      }
      if (dir === "left") { wrap.scrollLeft += wrap.scrollWidth - beforeW; win.c0 = data.c0; } else { win.c1 = data.c1; }
      added = data.slices.length;
    }
    label("win-rows", win.r0, win.r1);
    label("win-cols", win.c0, win.c1);
    return added;
  }

  function extend(dir) {
    if (loading) { return loading.then(function () { return 0; }); }
    var w = { r0: win.r0, r1: win.r1, c0: win.c0, c1: win.c1 };
    if (dir === "down") { if (win.r1 >= win.rows) { return Promise.resolve(0); } w.r0 = win.r1; w.r1 = win.r1 + STEP_ROWS; }
    if (dir === "up") { if (win.r0 <= 0) { return Promise.resolve(0); } w.r1 = win.r0; w.r0 = Math.max(0, win.r0 - STEP_ROWS); }
    if (dir === "right") { if (win.c1 >= win.slices) { return Promise.resolve(0); } w.c0 = win.c1; w.c1 = win.c1 + STEP_SLICES; }
    if (dir === "left") { if (win.c0 <= 0) { return Promise.resolve(0); } w.c1 = win.c0; w.c0 = Math.max(0, win.c0 - STEP_SLICES); }
    var params = new URLSearchParams(location.search);
    Object.keys(w).forEach(function (k) { params.set(k, String(w[k])); });
    table.setAttribute("aria-busy", "true");
    loading = fetch(table.getAttribute("data-window") + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("window " + response.status); }
        return response.json();
      })
      .then(function (data) { return apply(dir, data); })
      .catch(function () { return 0; })
      .then(function (added) { loading = null; table.removeAttribute("aria-busy"); return added; });
    return loading;
  }

  var pending = false;
  wrap.addEventListener("scroll", function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      if (wrap.scrollTop + wrap.clientHeight > wrap.scrollHeight - EDGE_PX) { extend("down"); }
      else if (wrap.scrollLeft + wrap.clientWidth > wrap.scrollWidth - EDGE_PX) { extend("right"); }
    });
  });

  var start = table.querySelector("tbody td.sel") || table.querySelector("tbody td");
  if (start) { start.setAttribute("tabindex", "0"); current = start; }
  Array.prototype.forEach.call(table.querySelectorAll("tbody td"), function (td) {
    if (td !== start) { td.setAttribute("tabindex", "-1"); }
  });

  window.addEventListener("popstate", function () { location.reload(); });
})();
