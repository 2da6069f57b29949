// pcosync web admin: the live progress of a running job, and "select all" for the people
// list. Everything works without it (a running job's page then reloads itself).
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (job && job.getAttribute("data-state") === "running") {
    var url = job.getAttribute("data-progress-url");
    var bar = document.getElementById("job-progress");
    var text = document.getElementById("job-progress-text");
    var tick = function () {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (bar && p.total !== null) { bar.max = Math.max(p.total, 1); bar.value = Math.min(p.done, p.total); }
          if (text) { text.textContent = p.text; }
          if (p.state !== "running") { window.location.reload(); return; }
          window.setTimeout(tick, 400);
        })
        .catch(function () { window.setTimeout(tick, 1500); });
    };
    window.setTimeout(tick, 300);
  }
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      var boxes = document.querySelectorAll("input[name=pco_id]");
      for (var i = 0; i < boxes.length; i++) { boxes[i].checked = all.checked; }
    });
  }
})();
