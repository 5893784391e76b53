// Small behaviours of the staff pages, kept out of the templates so the Content Security Policy
// can forbid inline scripts and handlers (script-src 'self').
//   <select data-submit-on-change>                  submits its form when changed
//   <input type="checkbox" data-check-all="SELECTOR"> ticks or clears every box SELECTOR finds
//   <input data-enter-does-not-submit>              Enter does not submit the form (a search box)
//   <a data-history-back href="…">                  goes back a page (the href without scripts)
//   <input role="combobox" aria-controls="LIST" data-combobox-value="ID">
//                                                   an ARIA 1.2 combobox: ↑/↓ move through LIST's
//                                                   options (aria-activedescendant), Enter or a click
//                                                   picks one into the hidden input ID, Escape closes;
//                                                   the focus stays in the box
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

// --- combobox (the category picker) -------------------------------------------------------------

function comboboxList(input) {
  return document.getElementById(input.getAttribute("aria-controls"));
}

function comboboxOptions(input) {
  const list = comboboxList(input);
  return list ? Array.from(list.querySelectorAll('[role=option]:not([aria-disabled="true"])')) : [];
}

function comboboxActivate(input, option) {
  for (const other of comboboxOptions(input)) {
    other.setAttribute("aria-selected", other === option ? "true" : "false");
  }
  if (option) {
    input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  } else {
    input.removeAttribute("aria-activedescendant");
  }
}

function comboboxClose(input) {
  const list = comboboxList(input);
  if (list) list.replaceChildren();
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
}

function comboboxPick(input, option) {
  const hidden = document.getElementById(input.dataset.comboboxValue);
  if (hidden) hidden.value = option.dataset.value;
  input.value = option.dataset.label;
  comboboxClose(input);
  input.focus();
  // Whoever follows the choice listens on the body (e.g. hx-trigger="category-picked from:body").
  document.body.dispatchEvent(new CustomEvent("category-picked", { bubbles: true }));
}

document.addEventListener("keydown", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.getAttribute("role") !== "combobox") return;
  const options = comboboxOptions(input);
  const active = document.getElementById(input.getAttribute("aria-activedescendant") || "");
  const index = options.indexOf(active);
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    if (!options.length) return;
    const step = event.key === "ArrowDown" ? 1 : -1;
    const next = index < 0 ? (step > 0 ? 0 : options.length - 1) : (index + step + options.length) % options.length;
    comboboxActivate(input, options[next]);
  } else if (event.key === "Enter") {
    event.preventDefault();
    if (index >= 0) comboboxPick(input, options[index]);
  } else if (event.key === "Escape" && input.getAttribute("aria-expanded") === "true") {
    event.preventDefault();
    comboboxClose(input);
  }
});

// A click picks without taking the focus from the box.
document.addEventListener("mousedown", (event) => {
  const option = event.target instanceof Element ? event.target.closest("[role=option]") : null;
  if (option && option.closest("[role=listbox]")) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const option = event.target instanceof Element ? event.target.closest('[role=option]:not([aria-disabled="true"])') : null;
  const list = option ? option.closest("[role=listbox]") : null;
  const input = list ? document.querySelector(`[role=combobox][aria-controls="${list.id}"]`) : null;
  if (option && input) comboboxPick(input, option);
});

// New options arrived (htmx): open the list, nothing active yet.
document.addEventListener("htmx:afterSwap", (event) => {
  const list = event.target;
  if (!(list instanceof HTMLElement) || list.getAttribute("role") !== "listbox") return;
  const input = document.querySelector(`[role=combobox][aria-controls="${list.id}"]`);
  if (!input) return;
  input.setAttribute("aria-expanded", list.children.length ? "true" : "false");
  input.removeAttribute("aria-activedescendant");
});
