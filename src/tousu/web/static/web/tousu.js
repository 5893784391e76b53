// Small behaviours of the staff pages, kept out of the templates so the Content Security Policy
// can forbid inline scripts and handlers (script-src 'self').
//   <select data-submit-on-change>                  submits its form when changed
//   <input type="checkbox" data-check-all="SELECTOR"> ticks or clears every box SELECTOR finds
//   <input data-enter-does-not-submit>              Enter does not submit the form (a search box)
//   <a data-history-back href="…">                  goes back a page (the href without scripts)
// The page gets the class "js" on <html>: without scripts, CSS shows the plain fallbacks instead.
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target instanceof HTMLElement && target.matches("[data-enter-does-not-submit]") && event.key === "Enter") {
    event.preventDefault();
  }
});

document.addEventListener("change", (event) => {
  const target = event.target;
  if (!(target instanceof HTMLElement)) return;
  if (target.matches("select[data-submit-on-change]") && target.form) {
    target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
  }
  if (target.matches("input[type=checkbox][data-check-all]")) {
    for (const box of document.querySelectorAll(target.dataset.checkAll)) {
      box.checked = target.checked;
    }
  }
});

document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-history-back]") : null;
  if (link && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
