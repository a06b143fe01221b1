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

// --- The dashboard's emergency alert (web/templates/dashboard/_emergencies.html) -------------------
// The region is polled by HTMX; an id not seen before is a new emergency: show the alert (role=alert,
// read out by screen readers) and, if the person turned it on, play a short tone (Web Audio, no file).
const seen = new Set();
let primed = false;
let audio = null;
const soundBox = document.querySelector("[data-evx-sound]");
if (soundBox) {
  soundBox.closest("[hidden]")?.removeAttribute("hidden");  // the option exists only where it can work
  soundBox.checked = localStorage.getItem("evx-sound") === "on";
  soundBox.addEventListener("change", () => {
    localStorage.setItem("evx-sound", soundBox.checked ? "on" : "off");
    if (soundBox.checked) { tone(); }  // a user gesture: browsers allow sound from here on
  });
}

function tone() {
  try {
    audio = audio || new AudioContext();
    for (const [start, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, audio.currentTime + start);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + start + 0.22);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + start);
      osc.stop(audio.currentTime + start + 0.23);
    }
  } catch (e) { /* no audio device: the visible alert remains */ }
}

function checkEmergencies(region) {
  const rows = region.querySelectorAll("[data-evx-emergency]");
  const fresh = [];
  for (const row of rows) {
    const id = row.dataset.evxEmergency;
    if (!seen.has(id)) { seen.add(id); if (primed) { fresh.push(row.dataset.evxLabel); } }
  }
  primed = true;
  if (fresh.length) {
    const alertBox = document.getElementById("emergency-alert");
    if (alertBox) {
      alertBox.querySelector("[data-evx-alert-text]").textContent = fresh.join("; ");
      alertBox.hidden = false;
    }
    if (soundBox && soundBox.checked) { tone(); }
  }
}

const region = document.getElementById("emergencies");
if (region) { checkEmergencies(region); }
document.body.addEventListener("htmx:afterSettle", () => {
  const target = document.getElementById("emergencies");
  if (target) { checkEmergencies(target); }
});
