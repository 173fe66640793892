// Live progress of a run: poll the API for new log lines until the run ends.
(function () {
  "use strict";
  var table = document.getElementById("log");
  if (!table || table.dataset.done === "yes") { return; }
  var body = table.querySelector("tbody");
  var status = document.getElementById("run-status");
  var summary = document.getElementById("run-summary");
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function poll() {
    fetch("/api/runs/" + table.dataset.run + "?after=" + table.dataset.after, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (run) {
        run.lines.forEach(function (l) {
          var row = document.createElement("tr");
          row.className = "st-" + l.status;
          cell(row, l.elapsed.toFixed(1) + "s").className = "num";
          cell(row, l.service);
          cell(row, l.status);
          var code = document.createElement("code"); code.textContent = l.detail;
          cell(row, "").appendChild(code);
          body.appendChild(row);
          table.dataset.after = l.seq;
        });
        status.textContent = run.status;
        status.className = "badge run-" + run.status;
        summary.textContent = run.summary;
        if (run.status === "ok" || run.status === "failed") { table.dataset.done = "yes"; return; }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
