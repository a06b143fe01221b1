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
