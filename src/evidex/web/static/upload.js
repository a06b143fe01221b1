// The evidence page's resumable upload: an enhancement of its plain form (templates/evidence/files.html),
// which without this script posts the whole file. Here the file goes through the chunk API (/api/v1:
// start, PUT each 1 MiB chunk, complete) with the page's session cookie and its CSRF header (see
// api/deps.py get_uploader_token). After a dropped connection it asks the server how many chunks it
// holds and goes on from there; the same file chosen again after a reload resumes its own upload.
// The SHA-256 is computed here first and declared at the start, so the server seals the file only if
// what it stored is, bit for bit, what was read from this computer.

const page = globalThis.document ? document.querySelector("form[data-evx-upload]") : null;
if (page) { enhance(page); }

function enhance(form) {
  const texts = JSON.parse(form.dataset.texts);
  const resumable = JSON.parse(form.dataset.resumable || "[]");
  const api = form.dataset.api;
  const requestId = form.dataset.request;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const input = form.querySelector('input[type="file"]');
  const declaredInput = form.querySelector('input[name="sha256"]');
  const panel = form.querySelector("[data-evx-upload-status]");
  const bar = panel.querySelector("progress");
  const label = panel.querySelector("[data-evx-upload-label]");
  const line = panel.querySelector("[data-evx-upload-text]");
  const announce = panel.querySelector("[data-evx-upload-announce]");
  const retry = panel.querySelector("[data-evx-upload-retry]");
  const submit = form.querySelector("[data-evx-upload-submit]");
  const labelText = label.textContent;
  const lang = document.documentElement.lang === "cnr" ? "sr-Latn-ME" : document.documentElement.lang;
  let job = null; // {file, sha256, id, chunkSize, next}
  let busy = false;
  let failures = 0;
  let timer = null;

  form.addEventListener("submit", (event) => {
    const file = input.files && input.files[0];
    if (!file || busy) {
      if (busy) { event.preventDefault(); }
      return; // no file: the plain form posts, and the server shows what is missing
    }
    event.preventDefault();
    const declared = declaredInput ? declaredInput.value.trim().toLowerCase() : "";
    if (!job || job.file !== file) { job = { file, sha256: null, id: null, chunkSize: 0, next: 0, declared }; }
    failures = 0;
    run();
  });
  retry.addEventListener("click", () => { if (!busy && job) { failures = 0; run(); } });
  window.addEventListener("beforeunload", (event) => { if (busy) { event.preventDefault(); } });

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? "")).replace(/%%/g, "%");
  }
  function size(bytes) {
    const [unit, factor] = bytes >= 1e9 ? ["gigabyte", 1e9] : bytes >= 1e6 ? ["megabyte", 1e6] : ["kilobyte", 1e3];
    try {
      return new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: 1 })
        .format(bytes / factor);
    } catch (_e) {
      return `${(bytes / factor).toFixed(1)} ${unit[0].toUpperCase()}B`;
    }
  }
  function show(percent, text) {
    panel.hidden = false;
    bar.value = percent;
    bar.textContent = `${percent}%`;
    line.textContent = text;
  }
  function say(text) { announce.textContent = text; }

  async function call(method, url, body, type) {
    const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    if (type) { headers["Content-Type"] = type; }
    let response;
    try {
      response = await fetch(url, { method, body, headers, credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      const error = new Error(String(e));
      error.network = true;
      throw error;
    }
    let data = null;
    try { data = await response.json(); } catch (_e) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.detail) || response.statusText || String(response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  async function run() {
    clearTimeout(timer);
    busy = true;
    submit.disabled = true;
    retry.hidden = true;
    const file = job.file;
    try {
      if (!job.sha256) {
        label.textContent = labelText;
        job.sha256 = await sha256Of(file, (p) => show(p, fill(texts.hashing, { name: file.name, percent: p })));
        if (job.declared && job.declared !== job.sha256) {
          show(0, "");
          say(fill(texts.mismatch, { sha256: job.sha256 }));
          job = null;
          finish();
          return;
        }
      }
      if (!job.id) {
        const earlier = resumable.find((r) => r.sha256 === job.sha256 && r.size === file.size);
        if (earlier) {
          job.id = earlier.id;
          job.stale = true;
        } else {
          say(fill(texts.starting, { name: file.name }));
          const started = await call("POST", `${api}/requests/${requestId}/evidence`, JSON.stringify({
            name: file.name, size: file.size, sha256: job.sha256, media_type: file.type || "application/octet-stream",
          }), "application/json");
          job.id = started.id;
          job.chunkSize = started.chunk_size;
          job.next = started.chunks_received;
        }
      }
      if (job.stale) {  // resuming: the server's count of chunks says where to go on
        const state = await call("GET", `${api}/evidence/${job.id}`);
        if (state.status === "sealed") { return done(state); }  // sealed before its answer was lost
        if (state.status !== "uploading") {
          throw Object.assign(new Error(state.status), { status: 409, permanent: true });
        }
        job.chunkSize = state.chunk_size;
        job.next = state.chunks_received;
        job.stale = false;
        if (job.next > 0) {
          say(fill(texts.resuming, { name: file.name, percent: percentOf(job.next * job.chunkSize) }));
        }
      }
      const chunks = Math.max(1, Math.ceil(file.size / job.chunkSize));
      while (job.next < chunks) {
        const from = job.next * job.chunkSize;
        const piece = file.slice(from, Math.min(file.size, from + job.chunkSize));
        const state = await call("PUT", `${api}/evidence/${job.id}/chunks/${job.next}`, piece, "application/octet-stream");
        job.next = state.chunks_received;
        failures = 0;
        const sent = Math.min(file.size, job.next * job.chunkSize);
        show(percentOf(sent), fill(texts.progress, { percent: percentOf(sent), done: size(sent), total: size(file.size) }));
      }
      say(texts.sealing);
      done(await call("POST", `${api}/evidence/${job.id}/complete`));
    } catch (error) {
      finish();
      if (error.status === 401) {
        if (job.id) { job.stale = true; }
        say(texts.signed_out);
        retry.hidden = false;
      } else if (!error.permanent && (error.network || error.status === 408 || error.status === 409 ||
                                      error.status === 429 || error.status >= 500)) {
        // The connection dropped (or the node was busy): resume from the server's count of chunks.
        failures += 1;
        if (job.id) { job.stale = true; }
        const sent = job.id ? Math.min(file.size, job.next * (job.chunkSize || 0)) : 0;
        say(fill(texts.lost, { percent: percentOf(sent) }));
        retry.hidden = false;
        if (failures <= 3) {
          const seconds = 2 ** failures;
          line.textContent = fill(texts.retrying, { seconds });
          timer = setTimeout(() => { if (!busy) { run(); } }, seconds * 1000);
        }
      } else {
        say(fill(texts.failed, { detail: error.message }));
        job = null;
        announce.setAttribute("tabindex", "-1");
        announce.focus();
      }
    }
  }

  function done(sealed) {
    show(100, fill(texts.done, { sha256: sealed.sha256 }));
    say(fill(texts.done, { sha256: sealed.sha256 }));
    busy = false;
    window.location.assign(form.dataset.done + encodeURIComponent(sealed.id));
  }

  function finish() {
    busy = false;
    submit.disabled = false;
  }
  function percentOf(done) {
    return job && job.file.size ? Math.floor((done * 100) / job.file.size) : 100;
  }
}

// --- SHA-256 --------------------------------------------------------------------------------
// WebCrypto digests only a whole buffer, and only on HTTPS or localhost: a small file there;
// otherwise (a node on a closed network over plain HTTP, or a file too large to hold in memory)
// FIPS 180-4 here, read a slice at a time.
const WHOLE_LIMIT = 64 * 1024 * 1024;
const SLICE = 4 * 1024 * 1024;

async function sha256Of(file, progress) {
  progress(0);
  if (globalThis.crypto && crypto.subtle && file.size <= WHOLE_LIMIT) {
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    progress(100);
    return hex(new Uint8Array(digest));
  }
  const hash = new Sha256();
  for (let at = 0; at < file.size; at += SLICE) {
    hash.update(new Uint8Array(await file.slice(at, at + SLICE).arrayBuffer()));
    progress(Math.floor(((at + SLICE > file.size ? file.size : at + SLICE) * 100) / file.size));
  }
  progress(100);
  return hex(hash.digest());
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export class Sha256 {
  constructor() {
    this.h = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.w = new Int32Array(64);
    this.buffer = new Uint8Array(64);
    this.buffered = 0;
    this.length = 0;
  }

  update(bytes) {
    this.length += bytes.length;
    let i = 0;
    if (this.buffered > 0) {
      const take = Math.min(64 - this.buffered, bytes.length);
      this.buffer.set(bytes.subarray(0, take), this.buffered);
      this.buffered += take;
      i = take;
      if (this.buffered < 64) { return; }
      this.block(this.buffer, 0);
      this.buffered = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) { this.block(bytes, i); }
    if (i < bytes.length) {
      this.buffer.set(bytes.subarray(i), 0);
      this.buffered = bytes.length - i;
    }
  }

  digest() {
    const bits = this.length * 8;
    const tail = new Uint8Array(this.buffered < 56 ? 64 - this.buffered : 128 - this.buffered);
    tail[0] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(tail.length - 4, bits >>> 0);
    this.length -= tail.length; // the padding is not message
    this.update(tail);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let j = 0; j < 8; j++) { outView.setUint32(j * 4, this.h[j]); }
    return out;
  }

  block(bytes, at) {
    const w = this.w;
    const h = this.h;
    for (let i = 0; i < 16; i++) {
      const o = at + i * 4;
      w[i] = (bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (((w[i - 16] + s0) | 0) + ((w[i - 7] + s1) | 0)) | 0;
    }
    let a = h[0]; let b = h[1]; let c = h[2]; let d = h[3]; let e = h[4]; let f = h[5]; let g = h[6]; let k = h[7];
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (((((k + s1) | 0) + ((e & f) ^ (~e & g))) | 0) + ((K[i] + w[i]) | 0)) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
  }
}
