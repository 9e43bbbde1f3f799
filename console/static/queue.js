/* ResetDesk queue pages: live countdowns, polling controls, keyboard and selection.
 *
 * No framework and no build step; loaded after htmx (both deferred). The server renders every
 * row complete (a page works without this file); this file only:
 * - ticks each SLA countdown once a second while the server said it ticks (business hours
 *   open, clock running), and stops it at the desk's closing time it was given;
 * - rebuilds the htmx poller with the agent's interval or pause (kept in localStorage);
 * - keeps the keyboard cursor and the ticked rows across each refresh of the table;
 * - maps the keys: j/k move, Enter opens, a claims, r replies, x ticks, / searches, ? helps.
 */
(function () {
  "use strict";

  var PREFS_KEY = "resetdesk.queue.poll";
  var INTERVALS = [2, 5, 10, 30, 60];
  var selected = new Set();
  var currentId = null;

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /* --- polling ------------------------------------------------------------------------ */

  function loadPrefs() {
    var prefs = { interval: 10, paused: false };
    try {
      var saved = JSON.parse(window.localStorage.getItem(PREFS_KEY) || "{}");
      if (INTERVALS.indexOf(saved.interval) >= 0) { prefs.interval = saved.interval; }
      prefs.paused = saved.paused === true;
    } catch (e) { /* no storage, or garbage in it: the defaults */ }
    return prefs;
  }

  function savePrefs(prefs) {
    try { window.localStorage.setItem(PREFS_KEY, JSON.stringify(prefs)); } catch (e) { /* private mode */ }
  }

  function applyPrefs(prefs) {
    var poller = $("#queue-poll");
    if (!poller) { return; }
    /* a fresh element: htmx stops polling an element once it leaves the page */
    var fresh = poller.cloneNode(false);
    var refresh = "queue-refresh from:body";
    fresh.setAttribute("hx-trigger", prefs.paused ? refresh : "every " + prefs.interval + "s, " + refresh);
    poller.replaceWith(fresh);
    window.htmx.process(fresh);
    var button = $("#queue-pause");
    button.setAttribute("aria-pressed", prefs.paused ? "true" : "false");
    button.textContent = prefs.paused ? "Resume" : "Pause";
    $("#queue-interval").value = String(prefs.interval);
    var state = $("#queue-poll-state");
    state.textContent = prefs.paused ? "paused" : "live, every " + prefs.interval + " s";
    state.className = "poll-state " + (prefs.paused ? "paused" : "live");
    document.body.setAttribute("data-polling", prefs.paused ? "paused" : String(prefs.interval));
  }

  function setupPolling() {
    var prefs = loadPrefs();
    applyPrefs(prefs);
    $("#queue-pause").addEventListener("click", function () {
      prefs.paused = !prefs.paused;
      savePrefs(prefs);
      applyPrefs(prefs);
    });
    $("#queue-interval").addEventListener("change", function (event) {
      prefs.interval = parseInt(event.target.value, 10) || 10;
      savePrefs(prefs);
      applyPrefs(prefs);
    });
  }

  /* --- countdowns --------------------------------------------------------------------- */

  function clockText(seconds) {
    var s = Math.abs(seconds);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h + ":" + (m < 10 ? "0" : "") + m + ":" + (r < 10 ? "0" : "") + r;
  }

  function leftText(seconds) {
    return seconds >= 0 ? clockText(seconds) + " left" : "overdue " + clockText(seconds);
  }

  function startClocks(root) {
    var now = Date.now();
    $all("td.sla[data-ticking='true']", root).forEach(function (cell) { cell.rdStart = now; });
  }

  function tick() {
    var now = Date.now();
    $all("td.sla[data-ticking='true']").forEach(function (cell) {
      var start = cell.rdStart || (cell.rdStart = now);
      var until = cell.dataset.until ? Date.parse(cell.dataset.until) : Infinity;
      var closed = now >= until;
      var elapsed = Math.floor((Math.min(now, until) - start) / 1000);
      var remaining = parseInt(cell.dataset.remaining, 10) - Math.max(0, elapsed);
      $(".left", cell).textContent = leftText(remaining);
      if (remaining < 0 && !cell.classList.contains("sla-breached")) {
        cell.className = "sla sla-breached";
        $(".status", cell).textContent = "Breached";
      }
      if (closed) {  /* the desk closed while the page was open: the clock stands still */
        cell.dataset.ticking = "false";
        var note = $(".note", cell) || cell.appendChild(document.createElement("span"));
        note.className = "note";
        note.textContent = "outside hours";
      }
    });
  }

  /* --- rows, cursor, selection -------------------------------------------------------- */

  function rows() { return $all("#queue-rows > tr"); }

  function setCurrent(row, scroll) {
    rows().forEach(function (r) { r.classList.remove("current"); r.removeAttribute("aria-current"); });
    currentId = row ? row.dataset.id : null;
    if (row) {
      row.classList.add("current");
      row.setAttribute("aria-current", "true");
      if (scroll) { row.scrollIntoView({ block: "nearest" }); }
    }
  }

  function current() {
    return rows().filter(function (r) { return r.dataset.id === currentId; })[0] || null;
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var at = all.indexOf(current());
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    setCurrent(all[next], true);
  }

  function showCount() {
    var count = $("#bulk-count");
    if (count) { count.textContent = String(selected.size); }
  }

  function toggle(row) {
    var box = $("input[name='ticket']", row);
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
  }

  /* after each refresh: the same cursor, the same ticks (rows that left the page drop out) */
  function restore() {
    var present = new Set();
    rows().forEach(function (row) {
      present.add(row.dataset.id);
      var box = $("input[name='ticket']", row);
      box.checked = selected.has(row.dataset.id);
      row.classList.toggle("selected", box.checked);
    });
    selected.forEach(function (id) { if (!present.has(id)) { selected.delete(id); } });
    setCurrent(current(), false);
    showCount();
  }

  /* --- keyboard ----------------------------------------------------------------------- */

  var NOT_TYPING = ["checkbox", "radio", "button", "submit", "reset"];

  function typing(el) {
    if (!el || !el.tagName) { return false; }
    if (el.isContentEditable) { return true; }
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") { return true; }
    return tag === "input" && NOT_TYPING.indexOf((el.type || "").toLowerCase()) < 0;
  }

  function activates(el) {  /* Enter on these does their own thing */
    return el && el.closest && el.closest("a, button, input, select, textarea, summary, dialog") !== null;
  }

  function claim(row) {
    window.htmx.ajax("POST", "/queue/claim", {
      source: "#queue-status", target: "#queue-status", swap: "innerHTML",
      values: { ticket: row.dataset.id }
    });
  }

  function help() {
    var dialog = $("#queue-help");
    if (dialog.open) { dialog.close(); } else { dialog.showModal(); }
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) { return; }
    if (typing(event.target)) { return; }
    var dialog = $("#queue-help");
    if (dialog && dialog.open && event.key !== "?") { return; }
    var row = current();
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "?": help(); break;
      case "/":
        if (!$("#queue-search")) { return; }
        $("#queue-search").focus();
        break;
      case "Enter":
        if (!row || activates(event.target)) { return; }
        window.location.assign($("td.ref a", row).getAttribute("href"));
        break;
      case "a": if (!row) { return; } claim(row); break;
      case "r":
        if (!row) { return; }
        window.location.assign($("td.ref a", row).getAttribute("href") + "#reply");
        break;
      case "x": if (!row) { return; } toggle(row); break;
      default: return;
    }
    event.preventDefault();
  }

  /* --- forms -------------------------------------------------------------------------- */

  function tidyFilters(form) {
    /* empty fields stay out of the URL, which is then short enough to share */
    form.addEventListener("submit", function () {
      $all("input, select", form).forEach(function (field) {
        if (field.name && !field.value) { field.disabled = true; }
      });
      window.setTimeout(function () { $all("[disabled]", form).forEach(function (f) { f.disabled = false; }); }, 0);
    });
  }

  function init() {
    if (!$("#queue-table")) { return; }
    setupPolling();
    startClocks(document);
    restore();
    window.setInterval(tick, 1000);
    document.addEventListener("keydown", onKey);
    document.addEventListener("change", function (event) {
      var box = event.target;
      if (box.name !== "ticket" || box.type !== "checkbox") { return; }
      var row = box.closest("tr");
      if (box.checked) { selected.add(box.value); } else { selected.delete(box.value); }
      if (row) { row.classList.toggle("selected", box.checked); }
      showCount();
    });
    document.addEventListener("click", function (event) {  /* a click on a row moves the cursor */
      var row = event.target.closest && event.target.closest("#queue-rows > tr");
      if (row) { setCurrent(row, false); }
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target && event.detail.target.id === "queue-table") {
        startClocks(event.detail.target);
        restore();
        document.body.setAttribute("data-refreshed", String(Date.now()));
      }
    });
    $("#queue-help-open").addEventListener("click", help);
    var filters = $("#queue-filters");
    if (filters) { tidyFilters(filters); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
