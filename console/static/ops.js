/* ResetDesk ops overview: the poller's interval and pause (kept in localStorage).
 * The server renders the whole panel (the page works without this file); htmx swaps a fresh
 * one in on each poll. */
(function () {
  "use strict";

  var PREFS_KEY = "resetdesk.ops.poll";
  var INTERVALS = [2, 5, 10, 30, 60];

  function $(selector) { return document.querySelector(selector); }

  function load() {
    var prefs = { interval: 10, paused: false };
    try {
      var saved = JSON.parse(window.localStorage.getItem(PREFS_KEY) || "{}");
      if (INTERVALS.indexOf(saved.interval) >= 0) { prefs.interval = saved.interval; }
      prefs.paused = saved.paused === true;
    } catch (e) { /* no storage: the defaults */ }
    return prefs;
  }

  function save(prefs) {
    try { window.localStorage.setItem(PREFS_KEY, JSON.stringify(prefs)); } catch (e) { /* private mode */ }
  }

  function apply(prefs) {
    var poller = $("#ops-poll");
    if (!poller) { return; }
    var fresh = poller.cloneNode(false);  /* htmx stops polling an element that left the page */
    if (prefs.paused) { fresh.removeAttribute("hx-trigger"); }
    else { fresh.setAttribute("hx-trigger", "every " + prefs.interval + "s"); }
    poller.replaceWith(fresh);
    window.htmx.process(fresh);
    var button = $("#ops-pause");
    button.setAttribute("aria-pressed", prefs.paused ? "true" : "false");
    button.textContent = prefs.paused ? "Resume" : "Pause";
    $("#ops-interval").value = String(prefs.interval);
    var state = $("#ops-poll-state");
    state.textContent = prefs.paused ? "paused" : "live, every " + prefs.interval + " s";
    state.className = "poll-state " + (prefs.paused ? "paused" : "live");
    document.body.setAttribute("data-polling", prefs.paused ? "paused" : String(prefs.interval));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var prefs = load();
    apply(prefs);
    $("#ops-pause").addEventListener("click", function () {
      prefs.paused = !prefs.paused; save(prefs); apply(prefs);
    });
    $("#ops-interval").addEventListener("change", function (event) {
      prefs.interval = parseInt(event.target.value, 10) || 10; save(prefs); apply(prefs);
    });
  });
})();
