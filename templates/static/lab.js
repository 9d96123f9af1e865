// The lab page: arrow keys move between the picker grid's cells; changing the world or seed shows its grid;
// after a picker cell reloads the page, focus returns to that cell (keyboard users keep their place).
(function () {
  "use strict";
  var KEY = "cfgraph-lab-focus";
  var grid = document.getElementById("pick-grid");
  function remember(button) {
    try { window.sessionStorage.setItem(KEY, button.value); } catch (e) { /* storage off: focus is only lost */ }
  }
  if (grid) {
    grid.addEventListener("keydown", function (event) {
      var moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
      var move = moves[event.key];
      var cell = event.target.closest("td, th");
      if (!move || !cell) { return; }
      var row = cell.parentElement;
      var rows = Array.prototype.slice.call(grid.querySelectorAll("tr"));
      var r = rows.indexOf(row) + move[0];
      var c = Array.prototype.indexOf.call(row.children, cell) + move[1];
      if (r < 0 || r >= rows.length) { return; }
      var target = rows[r].children[Math.max(0, Math.min(c, rows[r].children.length - 1))];
      var button = target && target.querySelector("button");
      if (button) { button.focus(); event.preventDefault(); }
    });
    // Any way a picker button submits (Enter, Space, click) goes through its click event.
    grid.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (button && button.name === "add") { remember(button); }
    });
    var wanted = null;
    try {
      wanted = window.sessionStorage.getItem(KEY);
      window.sessionStorage.removeItem(KEY);
    } catch (e) { wanted = null; }
    if (wanted) {
      var buttons = grid.querySelectorAll("button[name='add']");
      for (var i = 0; i < buttons.length; i += 1) {
        if (buttons[i].value === wanted) { buttons[i].focus(); break; }
      }
    }
  }
  ["pick-world", "pick-seed"].forEach(function (id) {
    var select = document.getElementById(id);
    if (!select) { return; }
    select.addEventListener("change", function () {
      if (id === "pick-world") {
        var seed = document.getElementById("pick-seed");
        if (seed) { seed.value = ""; }
      }
      document.getElementById("pick-show").click();
    });
  });
})();
