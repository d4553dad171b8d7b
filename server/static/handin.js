// Live status: elements with data-status-url are refreshed until their submission is graded.
(function () {
  "use strict";
  var FINAL = { graded: true, error: true };

  function poll(el) {
    var url = el.getAttribute("data-status-url");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        var badge = el.querySelector("[data-field=status]");
        if (badge) { badge.textContent = s.status; badge.className = "badge status-" + s.status; }
        var score = el.querySelector("[data-field=score]");
        if (score) { score.textContent = s.score === null ? "–" : (s.score + " / " + s.max_score); }
        var grade = el.querySelector("[data-field=grade]");
        if (grade) { grade.textContent = s.grade ? (s.grade.label || (s.grade.passed ? "pass" : "fail")) : "–"; }
        if (FINAL[s.status]) {
          var reload = el.getAttribute("data-reload-when-done");
          if (reload) { window.location.reload(); }
          return;
        }
        setTimeout(function () { poll(el); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(el); }, 3000); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var els = document.querySelectorAll("[data-status-url]");
    for (var i = 0; i < els.length; i++) {
      var s = els[i].querySelector("[data-field=status]");
      if (!s || !FINAL[s.textContent.trim()]) { poll(els[i]); }
    }
  });
})();
