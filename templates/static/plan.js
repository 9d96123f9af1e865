// The planner page: poll a compute job's status and reload the plan when its cells land.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) return;
  var text = document.getElementById("job-text");
  var bar = document.getElementById("job-progress");
  var url = box.getAttribute("data-status-url");
  function show(job) {
    var line = "job " + job.id + ": " + job.status + ", " + job.done + " of " + job.total + " fits";
    if (job.status === "done") line += " (" + job.cells + " cells stored)";
    if (job.error) line += ": " + job.error;
    text.textContent = line;
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
  }
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (job) {
      if (!job) { text.textContent = "the job is gone (the explorer restarted?)"; return; }
      show(job);
      if (job.status === "done") {
        window.location.assign(box.getAttribute("data-reload"));
      } else if (job.status !== "failed") {
        window.setTimeout(poll, 500);
      }
    }).catch(function () { text.textContent = "lost contact with the explorer"; });
  }
  var status = text.textContent;
  if (status.indexOf(": done") < 0 && status.indexOf(": failed") < 0) poll();
})();
