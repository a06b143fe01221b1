// evidex's own script: progressive enhancement only (every form works without it).
import { initAll } from "./govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// After an HTMX swap, move focus to the region that changed when asked to (data-evx-focus), so a
// keyboard or screen-reader user is not left on an element that no longer exists.
document.body.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail && event.detail.target;
  if (target && target.dataset && target.dataset.evxFocus !== undefined) {
    target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: false });
  }
});

// Every HTMX request carries the page's CSRF token (web/security.py).
document.body.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
});

// Controls only a page without JavaScript needs (e.g. "Show the form" where HTMX updates the form
// itself) are removed, so that Enter in a field does not press them.
document.querySelectorAll("[data-evx-nojs]").forEach((el) => el.remove());

// A region being refreshed says so (aria-busy; evidex.css dims it) until its answer arrives.
document.body.addEventListener("htmx:beforeRequest", (event) => {
  const target = event.detail && event.detail.target;
  if (target && target.dataset && target.dataset.evxBusy !== undefined) { target.setAttribute("aria-busy", "true"); }
});
document.body.addEventListener("htmx:afterRequest", (event) => {
  const target = event.detail && event.detail.target;
  if (target && target.removeAttribute) { target.removeAttribute("aria-busy"); }
});
