// Theme switch: the choice is kept in localStorage; without it (or without JavaScript) the page
// follows the system's light or dark preference. Loaded from the app (no inline script: see the CSP).
(function () {
  "use strict";
  var KEY = "alphaplus-theme";
  var root = document.documentElement;
  function stored() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function current() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) { return chosen; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  var saved = stored();
  if (saved === "dark" || saved === "light") { root.setAttribute("data-theme", saved); }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) { return; }
    function label() { button.textContent = current() === "dark" ? "light theme" : "dark theme"; }
    label();
    button.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { window.localStorage.setItem(KEY, next); } catch (e) { /* private mode: not remembered */ }
      label();
    });
  });
})();
