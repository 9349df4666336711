// Keeps "time left" figures on staff pages current. Pages work without it: the server
// renders the same text at load time.
(function () {
  "use strict";
  function format(ms) {
    var overdue = ms < 0;
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var text = d ? d + " d " + h + " h" : h ? h + " h " + (m < 10 ? "0" : "") + m + " min" : m + " min";
    return overdue ? "overdue by " + text : text + " left";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(due)) {
        el.textContent = format(due - now);
        el.classList.toggle("overdue", due < now);
      }
    });
  }
  tick();
  setInterval(tick, 30000);
})();
