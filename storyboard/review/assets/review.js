// storyboard review page: the strip follows the edit, a thumbnail seeks it, keys drive both.
// No network, no libraries: this file and the page are all there is.
(function () {
  "use strict";
  var edit = document.getElementById("edit");
  var thumbs = Array.prototype.slice.call(document.querySelectorAll("#strip .thumb"));
  var strip = document.getElementById("strip");
  var shown = -1;

  function startOf(i) { return parseFloat(thumbs[i].getAttribute("data-in")); }

  function shotAt(t) {
    var found = 0;
    for (var i = 0; i < thumbs.length; i++) { if (t + 1e-4 >= startOf(i)) { found = i; } }
    return found;
  }

  function keepInView(button) {
    var left = button.offsetLeft - strip.offsetLeft;
    if (left < strip.scrollLeft || left + button.offsetWidth > strip.scrollLeft + strip.clientWidth) {
      strip.scrollLeft = left - (strip.clientWidth - button.offsetWidth) / 2;
    }
  }

  function mark(i) {
    if (i === shown || !thumbs.length) { return; }
    thumbs.forEach(function (b, n) {
      if (n === i) { b.setAttribute("aria-current", "true"); } else { b.removeAttribute("aria-current"); }
    });
    shown = i;
    keepInView(thumbs[i]);
  }

  function current() { return edit ? shotAt(edit.currentTime) : Math.max(shown, 0); }

  function go(i) {
    i = Math.max(0, Math.min(thumbs.length - 1, i));
    if (edit) {
      edit.currentTime = startOf(i);
      mark(i);
    } else {
      document.getElementById(thumbs[i].getAttribute("data-target")).scrollIntoView();
      mark(i);
    }
  }

  function toggle() {
    if (!edit) { return; }
    if (edit.paused) { edit.play().catch(function () {}); } else { edit.pause(); }
  }

  thumbs.forEach(function (b, n) { b.addEventListener("click", function () { go(n); }); });
  if (edit) {
    ["timeupdate", "seeked", "loadedmetadata"].forEach(function (name) {
      edit.addEventListener(name, function () { mark(shotAt(edit.currentTime)); });
    });
  }
  mark(0);

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var key = event.key.toLowerCase();
    if (key === "n") { go(current() + 1); thumbs[shown].focus(); }
    else if (key === "p") { go(current() - 1); thumbs[shown].focus(); }
    else if (key === "k") { toggle(); }
    else { return; }
    event.preventDefault();
  });
})();
