// fila dashboard: keeps counts, switches and charts fresh by polling the
// shared snapshot (GET <base>api/snapshot). No framework, no build step.
(function () {
  "use strict";
  var body = document.body;
  var interval = parseInt(body.getAttribute("data-interval"), 10);
  if (!interval) { return; }
  var base = body.getAttribute("data-base");
  var live = document.getElementById("live");

  function each(sel, fn) {
    var els = document.querySelectorAll(sel);
    for (var i = 0; i < els.length; i++) { fn(els[i]); }
  }
  function seconds(ms) { return (ms / 1000).toFixed(1) + "s"; }

  function apply(snap) {
    var byName = {};
    snap.queues.forEach(function (q) { byName[q.name] = q; });
    each("[data-count]", function (el) {
      var q = byName[el.getAttribute("data-count")];
      if (q && q.counts) { el.textContent = String(q.counts[el.getAttribute("data-state")]); }
    });
    each("[data-paused]", function (el) {
      var q = byName[el.getAttribute("data-paused")];
      if (q) { el.textContent = q.paused ? "paused" : ""; }
    });
    each("[data-limited]", function (el) {
      var q = byName[el.getAttribute("data-limited")];
      if (q) { el.textContent = q.rate_limited_ms > 0 ? "rate-limited " + seconds(q.rate_limited_ms) : ""; }
    });
    each("[data-rate]", function (el) {
      var q = byName[el.getAttribute("data-rate")];
      if (q) { el.textContent = String(el.getAttribute("data-kind") === "failed" ? q.failed_last_minute : q.completed_last_minute); }
    });
    each("[data-chart]", function (el) {
      var q = byName[el.getAttribute("data-chart")];
      // The server draws the SVG from numbers and escapes the queue name.
      if (q && q.chart_svg) { el.innerHTML = q.chart_svg; }
    });
    body.setAttribute("data-updated", snap.at);
    if (live) { live.textContent = "updated " + new Date(snap.at).toLocaleTimeString(); }
  }

  function poll() {
    if (document.hidden) { setTimeout(poll, interval); return; }
    fetch(base + "api/snapshot", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(apply)
      .catch(function (e) { if (live) { live.textContent = "update failed: " + e.message; } })
      .then(function () { setTimeout(poll, interval); });
  }
  setTimeout(poll, interval);
})();
