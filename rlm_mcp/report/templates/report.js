// The report's one script (allowed by the page's Content-Security-Policy hash). It reads data only
// from the JSON block and the DOM, writes text only through textContent, and works on top of a page
// that is complete without it (citations open through :target, the tree through <details>).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var current = null;

  function openAncestors(el) {
    for (var p = el.parentElement; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") { p.open = true; }
    }
  }

  function closeSource() {
    if (current) { current.classList.remove("open"); current = null; }
  }

  function showSource(src, fids) {
    closeSource();
    src.classList.add("open");
    current = src;
    var first = null;
    src.querySelectorAll("mark").forEach(function (m) {
      var mine = (m.getAttribute("data-f") || "").split(" ").some(function (f) { return fids.indexOf(f) >= 0; });
      m.classList.toggle("current", mine);
      if (mine && !first) { first = m; }
    });
    var note = document.getElementById("notfound-note");
    src.querySelector("header").appendChild(note);
    note.hidden = first !== null || fids.length === 0;
    if (first) { first.scrollIntoView({ block: "center" }); } else { src.scrollTop = 0; }
  }

  function reveal(id) {
    var el = document.getElementById(id);
    if (!el) { return false; }
    if (el.classList.contains("src")) { showSource(el, []); return true; }
    openAncestors(el);
    if (el.tagName === "DETAILS") { el.open = true; }
    el.scrollIntoView({ block: "start" });
    el.classList.add("flash");
    setTimeout(function () { el.classList.remove("flash"); }, 1500);
    return true;
  }

  document.addEventListener("click", function (ev) {
    var a = ev.target.closest ? ev.target.closest("a") : null;
    if (!a) { return; }
    if (a.classList.contains("close")) { ev.preventDefault(); closeSource(); return; }
    var href = a.getAttribute("href") || "";
    if (href.charAt(0) !== "#") { return; }
    var target = document.getElementById(href.slice(1));
    if (!target) { return; }
    ev.preventDefault();
    if (a.classList.contains("cite")) {
      showSource(target, (a.getAttribute("data-f") || "").split(" ").filter(Boolean));
    } else {
      closeSource();
      reveal(href.slice(1));
    }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { closeSource(); }
  });

  var stateSel = document.getElementById("f-state");
  var workerSel = document.getElementById("f-worker");
  var shown = document.getElementById("f-shown");
  data.workers.forEach(function (w) {
    var o = document.createElement("option");
    o.value = w;
    o.textContent = w;
    workerSel.appendChild(o);
  });
  var tasks = Array.prototype.slice.call(document.querySelectorAll("details.task"));

  function applyFilter() {
    var st = stateSel.value, w = workerSel.value, n = 0;
    tasks.forEach(function (t) {
      var ok = (!st || t.getAttribute("data-state") === st) && (!w || t.getAttribute("data-worker") === w);
      t.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + data.tasks + " tasks shown";
  }
  stateSel.addEventListener("change", applyFilter);
  workerSel.addEventListener("change", applyFilter);
  applyFilter();

  document.getElementById("f-find").addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter") { return; }
    var id = ev.target.value.trim().toLowerCase();
    var found = /^c\d+$/.test(id) ? reveal("src-" + id) : (/^[tf]\d+$/.test(id) && reveal(id));
    ev.target.setCustomValidity(found ? "" : "no " + id + " in this report");
    ev.target.reportValidity();
  });
  document.getElementById("f-open").addEventListener("click", function () {
    document.querySelectorAll("#tree details").forEach(function (d) { d.open = true; });
  });
  document.getElementById("f-close").addEventListener("click", function () {
    document.querySelectorAll("#tree details details").forEach(function (d) { d.open = false; });
  });

  if (location.hash.length > 1) { reveal(location.hash.slice(1)); }
  window.addEventListener("hashchange", function () { reveal(location.hash.slice(1)); });
  document.documentElement.setAttribute("data-ready", data.job_id);
}());
