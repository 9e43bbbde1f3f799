/* ResetDesk customer pages: next to each time the server wrote (Pacific time, and the
 * customer's own zone when the request gave one), add the same moment on the reader's device,
 * in the page's language. No framework, no build step; without this file the page reads
 * the same, minus that addition.
 */
(function () {
  "use strict";

  function addDeviceTimes() {
    var lang = document.documentElement.lang || "en";
    var format;
    try {
      format = new Intl.DateTimeFormat(lang, {
        weekday: "long", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit",
        timeZoneName: "short"
      });
    } catch (e) { return; /* no Intl: the server's words stand */ }
    var tags = document.querySelectorAll("time[data-local-time]");
    for (var i = 0; i < tags.length; i++) {
      var tag = tags[i];
      var when = new Date(tag.getAttribute("datetime"));
      if (isNaN(when.getTime()) || tag.getAttribute("data-local-done")) { continue; }
      var note = document.createElement("span");
      note.className = "device-time";
      note.textContent = " (" + (tag.getAttribute("data-local-label") || "") +
        format.format(when) + ")";
      tag.parentNode.insertBefore(note, tag.nextSibling);
      tag.setAttribute("data-local-done", "1");
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addDeviceTimes);
  } else {
    addDeviceTimes();
  }
}());
