// The case page's action buttons: each opens its own small form (one at a time) without a reload.
// Without scripts the buttons are links (?do=<action>) that open the same form server-side.
//   <a data-open-action="SLUG">    shows #action-SLUG, hides the others, focuses its first field
//   <a data-close-action="SLUG">   hides #action-SLUG again
"use strict";

function showAction(slug) {
  for (const panel of document.querySelectorAll(".action-panel")) {
    panel.hidden = panel.id !== `action-${slug}`;
  }
  for (const button of document.querySelectorAll(".action-buttons [data-open-action]")) {
    const open = button.dataset.openAction === slug;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.classList.toggle("secondary", !open);
  }
  const panel = document.getElementById(`action-${slug}`);
  if (!panel) return false;
  const first = panel.querySelector("input:not([type=hidden]), select, textarea, button");
  panel.scrollIntoView({ block: "nearest" });
  if (first) first.focus();
  const url = new URL(window.location.href);
  url.searchParams.set("do", slug);
  url.hash = "";
  window.history.replaceState(null, "", url);
  return true;
}

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const opener = target ? target.closest("[data-open-action]") : null;
  if (opener && showAction(opener.dataset.openAction)) {
    event.preventDefault();
    return;
  }
  const closer = target ? target.closest("[data-close-action]") : null;
  if (closer) {
    event.preventDefault();
    const panel = document.getElementById(`action-${closer.dataset.closeAction}`);
    if (panel) panel.hidden = true;
    for (const button of document.querySelectorAll(".action-buttons [data-open-action]")) {
      button.setAttribute("aria-expanded", "false");
      button.classList.add("secondary");
    }
    const url = new URL(window.location.href);
    url.searchParams.delete("do");
    window.history.replaceState(null, "", url);
  }
});
