// Progress of a message to a group: asks the status endpoint every two seconds until
// nothing waits. Without JavaScript the page's Refresh link shows the same counts.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-status-url");
  var line = document.getElementById("progress-line");
  var bar = document.getElementById("progress-bar");
  function show(s) {
    Object.keys(s).forEach(function (key) {
      var cell = box.querySelector("td[data-key='" + key + "']");
      if (cell) { cell.textContent = String(s[key]); }
    });
    bar.max = s.families || 1;
    bar.value = s.families - s.waiting;
    line.textContent = s.done ? "Done: nothing is waiting to go."
      : "Sending: " + s.waiting + " of " + s.families + " families still to go.";
    return s.done;
  }
  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (s) { if (s && !show(s)) { setTimeout(poll, 2000); } })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
}());
