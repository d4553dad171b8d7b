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

// Feedback reports take the height of their content, so the page scrolls and the frame does not.
// The frame is sandboxed without scripts; "allow-same-origin" only lets this page measure it.
(function () {
  "use strict";

  function fit(frame) {
    var doc;
    try { doc = frame.contentDocument; } catch (e) { return; }
    if (!doc || !doc.documentElement || !doc.body) { return; }
    frame.style.height = (doc.documentElement.scrollHeight + 2) + "px";
  }

  function watch(frame) {
    fit(frame);
    try {
      var doc = frame.contentDocument;
      // Opening a traceback (<details>) changes the content's height.
      doc.addEventListener("toggle", function () { fit(frame); }, true);
      if (window.ResizeObserver) { new ResizeObserver(function () { fit(frame); }).observe(doc.body); }
    } catch (e) { /* the frame keeps its CSS height */ }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var frames = document.querySelectorAll("iframe.report");
    for (var i = 0; i < frames.length; i++) {
      (function (frame) {
        frame.addEventListener("load", function () { watch(frame); });
        var doc = frame.contentDocument;   // loaded before this ran (it is not the empty first page)
        if (doc && doc.readyState === "complete" && doc.URL !== "about:blank") { watch(frame); }
        window.addEventListener("resize", function () { fit(frame); });
      })(frames[i]);
    }
  });
})();

// Times are written in UTC (<time datetime="…">… UTC</time>); a reader elsewhere also gets their own.
(function () {
  "use strict";
  function two(n) { return (n < 10 ? "0" : "") + n; }
  document.addEventListener("DOMContentLoaded", function () {
    var els = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < els.length; i++) {
      var t = new Date(els[i].getAttribute("datetime"));
      if (isNaN(t.getTime()) || t.getTimezoneOffset() === 0) { continue; }
      var local = t.getFullYear() + "-" + two(t.getMonth() + 1) + "-" + two(t.getDate()) + " " +
                  two(t.getHours()) + ":" + two(t.getMinutes());
      var note = document.createElement("span");
      note.className = "muted local-time";
      note.textContent = " (" + local + " your time)";
      els[i].setAttribute("title", els[i].textContent);
      els[i].parentNode.insertBefore(note, els[i].nextSibling);
    }
  });
})();
