// LightBox web UI: control, live preview, dashboard, settings and images (presets,
// playlists and the live line are looks.js's, the schedule card schedule.js's).
// Everything live arrives over Server-Sent Events (/api/events); writes go to the
// JSON API. No framework, no build step, no CDN.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
};

const ui = {
  catalogue: [],
  state: null,
  config: null,
  schema: null,
  settingsDirty: false,
  charts: { fps: [], target: [], frame: [], cpu: [], temp: [] },
  maxPoints: 120,
  lastUptime: null,
  lastPreview: 0,
  paramsFor: null,
  images: new Map(),
};

// The catalogue's `group` headings in list order: everyday looks first, test patterns last.
const GROUP_ORDER = ["Ambient", "Lively", "Clock & text", "Images", "Utility", "Test patterns"];

// ------------------------------------------------------------------ API
async function api(method, path, body, { raw = false } = {}) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = raw ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (err) {
    return { ok: false, status: 0, body: { error: { code: "network", message: "the bridge is unreachable" } } };
  }
  let data = null;
  const type = res.headers.get("Content-Type") || "";
  if (type.includes("json")) data = await res.json().catch(() => null);
  if (res.status === 401) {
    showBanner("Please log in to make changes.", "/login");
  }
  return { ok: res.ok, status: res.status, body: data };
}

function errorText(r) {
  const e = r.body && r.body.error;
  if (!e) return `failed (${r.status})`;
  return e.message || e.code;
}

function showBanner(text, link) {
  const b = $("#banner");
  b.textContent = text + " ";
  if (link) b.append(el("a", { href: link }, "Log in"));
  b.classList.remove("hidden");
}

function setMessage(node, text, ok) {
  node.textContent = text || "";
  node.classList.toggle("error", ok === false);
  node.classList.toggle("ok", ok === true);
}

function fieldError(scope, field, text) {
  const target = scope.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`);
  if (target) { target.textContent = text; return true; }
  return false;
}

function clearErrors(scope) {
  scope.querySelectorAll(".field-error").forEach((n) => { n.textContent = ""; });
}

function throttle(fn, ms) {
  let last = 0, timer = null, pending = null;
  return (...args) => {
    pending = args;
    const now = Date.now();
    const run = () => { last = Date.now(); timer = null; fn(...pending); };
    if (now - last >= ms) run();
    else if (!timer) timer = setTimeout(run, ms - (now - last));
  };
}

// ------------------------------------------------------------------ control
// The animation list: grouped under the catalogue's headings, sorted by title within each,
// test patterns last. Images are played from the Images card; while one plays, the list
// names it.
function renderCatalogue() {
  const sel = $("#animation");
  const current = ui.state ? ui.state.effect : null;
  const groups = new Map();
  for (const a of ui.catalogue) {
    if (a.category === "image" && a.name !== current) continue;
    const g = a.group || "Ambient";
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(a);
  }
  const rank = (g) => { const i = GROUP_ORDER.indexOf(g); return g === "Test patterns" ? 1e6 : i < 0 ? GROUP_ORDER.length - 1.5 : i; };
  sel.replaceChildren();
  for (const g of [...groups.keys()].sort((x, y) => rank(x) - rank(y))) {
    const og = el("optgroup", { label: g });
    const items = groups.get(g).sort((x, y) => (x.title || x.name).localeCompare(y.title || y.name));
    for (const a of items) og.append(el("option", { value: a.name, title: a.description || "" }, optionText(a)));
    sel.append(og);
  }
  if (current) sel.value = current;
  ui.paramsFor = null;
  renderParams();
}

function optionText(a) {
  const st = ui.state;
  if (a.category !== "image" || !st || st.effect !== a.name) return a.title || a.name;
  const id = st.params && st.params.image;
  const name = id ? ui.images.get(id) : null;
  return `${a.title || a.name}: ${name || id || "none"}`;
}

// Keep the playing image's name in the list current (names arrive with /api/images).
function labelPlayingImage() {
  const st = ui.state;
  if (!st) return;
  const a = ui.catalogue.find((x) => x.name === st.effect);
  const opt = a && [...$("#animation").options].find((o) => o.value === a.name);
  if (opt) opt.textContent = optionText(a);
}

function renderParams() {
  const box = $("#params");
  const st = ui.state;
  if (!st) return;
  const anim = ui.catalogue.find((a) => a.name === st.effect);
  const key = st.effect;
  if (ui.paramsFor === key) { updateParamValues(); return; }
  ui.paramsFor = key;
  box.replaceChildren();
  if (!anim) return;
  for (const p of anim.params) {
    if (anim.category === "image" && p.name === "image") continue;
    box.append(paramControl(p, st.params ? st.params[p.name] : p.default));
  }
}

function paramControl(p, value) {
  const id = `param-${p.name}`;
  let input;
  const out = el("output", { id: `${id}-value`, dataset: { unit: p.unit || "" } });
  const send = (v) => sendParam(p.name, v);
  if (p.type === "int" || p.type === "float") {
    const step = p.type === "int" ? 1 : Math.pow(10, Math.floor(Math.log10((p.max - p.min) / 100)));
    input = el("input", { type: "range", id, min: p.min, max: p.max, step, value: value ?? p.default });
    out.textContent = withUnit(input.value, p.unit);
    const t = throttle(send, 150);
    input.addEventListener("input", () => {
      out.textContent = withUnit(input.value, p.unit);
      t(p.type === "int" ? parseInt(input.value, 10) : parseFloat(input.value));
    });
  } else if (p.type === "color") {
    input = el("input", { type: "color", id, value: value || p.default });
    const t = throttle(send, 150);
    input.addEventListener("input", () => t(input.value));
  } else if (p.type === "bool") {
    input = el("input", { type: "checkbox", id, checked: !!value });
    input.addEventListener("change", () => send(input.checked));
  } else if (p.type === "choice") {
    input = el("select", { id });
    for (const c of p.choices || []) input.append(el("option", { value: c }, c));
    input.value = value ?? p.default;
    input.addEventListener("change", () => send(input.value));
  } else {
    input = el("input", { type: "text", id, value: value ?? p.default, maxLength: p.max_length || 64 });
    input.addEventListener("change", () => send(input.value));
  }
  input.dataset.param = p.name;
  input.dataset.type = p.type;
  return el("div", { class: "param" },
    el("label", { htmlFor: id, title: p.name }, el("span", { class: "name" }, p.title || p.name), input,
      p.type === "int" || p.type === "float" ? out : null),
    p.help ? el("p", { class: "help" }, p.help) : null,
    el("p", { class: "field-error", dataset: { for: `params.${p.name}` } }));
}

function fmt(v) {
  const n = Number(v);
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

// A slider's value with its unit: "2 s", "1.50 ×", "30 px/s".
function withUnit(v, unit) {
  return unit ? `${fmt(v)} ${unit}` : fmt(v);
}

function updateParamValues() {
  const st = ui.state;
  if (!st || !st.params) return;
  for (const input of document.querySelectorAll("#params [data-param]")) {
    if (input === document.activeElement) continue;
    const v = st.params[input.dataset.param];
    if (v === undefined) continue;
    if (input.type === "checkbox") input.checked = !!v;
    else input.value = v;
    const out = document.getElementById(`${input.id}-value`);
    if (out) out.textContent = withUnit(input.value, out.dataset.unit);
  }
}

async function sendParam(name, value) {
  const scope = $("#control");
  const r = await api("POST", "/api/params", { [name]: value });
  clearErrors(scope);
  if (r.ok) { applyState(r.body.state); setMessage($("#control-message"), ""); return; }
  const field = r.body && r.body.error && r.body.error.field;
  if (!field || !fieldError(scope, field, errorText(r))) setMessage($("#control-message"), errorText(r), false);
}

function playingName() {
  const a = ui.state && ui.catalogue.find((x) => x.name === ui.state.effect);
  return a ? optionText(a) : (ui.state ? ui.state.effect : "");
}

async function chooseAnimation(name, params) {
  const scope = $("#control");
  clearErrors(scope);
  const r = await api("POST", "/api/animation", params ? { name, params } : { name });
  if (r.ok) { applyState(r.body.state); setMessage($("#control-message"), `Playing ${playingName()}`, true); return r; }
  const field = r.body && r.body.error && r.body.error.field;
  if (!field || !fieldError(scope, field, errorText(r))) setMessage($("#control-message"), errorText(r), false);
  if (ui.state) $("#animation").value = ui.state.effect;
  return r;
}

const sendBrightness = throttle(async (v) => {
  const r = await api("POST", "/api/brightness", { brightness: v });
  clearErrors($("#control"));
  if (r.ok) applyState(r.body.state);
  else if (!fieldError($("#control"), "brightness", errorText(r))) setMessage($("#control-message"), errorText(r), false);
}, 120);

function applyState(st) {
  if (!st) return;
  const effectChanged = !ui.state || ui.state.effect !== st.effect;
  ui.state = st;
  const power = $("#power");
  const on = st.state === "ON";
  power.setAttribute("aria-pressed", on ? "true" : "false");
  power.textContent = on ? "Power: on" : "Power: off";
  const b = $("#brightness");
  if (b !== document.activeElement) { b.value = st.brightness; $("#brightness-value").textContent = st.brightness; }
  if (effectChanged) {
    const sel = $("#animation");
    // An image shows in the list only while it plays: rebuild when one starts or ends.
    renderCatalogue();
    sel.value = st.effect;
  } else labelPlayingImage();
  renderParams();
  markPlayingImage();
}

// ------------------------------------------------------------------ preview
function drawPreview(frame) {
  const canvas = $("#preview");
  const { width, height } = frame;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width; canvas.height = height;
    canvas.style.aspectRatio = `${width} / ${height}`;
  }
  const bin = atob(frame.data);
  const img = new ImageData(width, height);
  const px = img.data;
  for (let i = 0, j = 0; i < bin.length; i += 3, j += 4) {
    px[j] = bin.charCodeAt(i); px[j + 1] = bin.charCodeAt(i + 1); px[j + 2] = bin.charCodeAt(i + 2); px[j + 3] = 255;
  }
  canvas.getContext("2d").putImageData(img, 0, 0);
  ui.lastPreview = Date.now();
  $("#preview-note").textContent = `${width}×${height}, live`;
}

// ------------------------------------------------------------------ dashboard
function applyMetrics(m) {
  const set = (id, text) => { $(id).textContent = text; };
  set("#m-fps", `${num(m.fps, 1)} / ${m.target_fps}`);
  set("#m-frame", `${num(m.frame_ms_p50, 1)} / ${num(m.frame_ms_p99, 1)} ms`);
  set("#m-cpu", `${num(m.cpu_percent, 0)} %`);
  set("#m-mem", `${num(m.rss_mb, 0)} MB`);
  set("#m-temp", m.cpu_temp_c == null ? "n/a" : `${num(m.cpu_temp_c, 1)} °C`);
  set("#m-throttled", m.throttled == null ? "n/a" : (m.throttled ? `yes (0x${m.throttled.toString(16)})` : "no"));
  set("#m-uptime", duration(m.uptime_s));
  set("#m-errors", String(m.animation_errors_total ?? "–"));
  set("#m-recoveries", String(m.recoveries_total ?? "–"));
  set("#m-rejected", String(m.commands_rejected_total ?? "–"));
  // The history the page loaded may already hold this document (same uptime).
  if (m.uptime_s == null || m.uptime_s !== ui.lastUptime) recordMetrics(m);
  drawCharts();
}

function recordMetrics(m) {
  const c = ui.charts;
  push(c.fps, m.fps); push(c.target, m.target_fps); push(c.frame, m.frame_ms_p99);
  push(c.cpu, m.cpu_percent); push(c.temp, m.cpu_temp_c);
  ui.lastUptime = m.uptime_s;
}

// The bridge keeps the last minutes of metrics: the charts start full, not empty.
async function loadMetricsHistory() {
  const r = await api("GET", "/api/metrics/history");
  if (!r.ok || !r.body || !Array.isArray(r.body.points)) return;
  if (r.body.max_points > 0) ui.maxPoints = r.body.max_points;
  for (const p of r.body.points) recordMetrics(p);
  drawCharts();
}

function drawCharts() {
  const c = ui.charts;
  drawChart("#chart-fps", [c.fps, c.target], ["#4f8cff", "#8d97a5"]);
  drawChart("#chart-frame", [c.frame], ["#f1c40f"]);
  drawChart("#chart-cpu", [c.cpu], ["#2ecc71"]);
  drawChart("#chart-temp", [c.temp], ["#e74c3c"]);
}

function push(arr, v) { arr.push(v == null ? null : Number(v)); if (arr.length > ui.maxPoints) arr.shift(); }
function num(v, d) { return v == null ? "–" : Number(v).toFixed(d); }
function duration(s) {
  if (s == null) return "–";
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

function drawChart(sel, series, colours) {
  const canvas = $(sel);
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 300, h = canvas.clientHeight || 90;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const values = series.flat().filter((v) => v != null && isFinite(v));
  if (!values.length) { ctx.fillStyle = "#8d97a5"; ctx.fillText("no data", 8, 16); return; }
  let lo = Math.min(0, ...values), hi = Math.max(...values);
  if (hi - lo < 1e-6) hi = lo + 1;
  const pad = 14;
  // Each series spans the width: what the bridge kept plus what arrived since (up to
  // maxPoints, the bridge's window), oldest at the left.
  series.forEach((data, i) => {
    ctx.strokeStyle = colours[i]; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    data.forEach((v, x) => {
      if (v == null) { started = false; return; }
      const px = (x / Math.max(data.length - 1, 1)) * w;
      const py = h - pad / 2 - ((v - lo) / (hi - lo)) * (h - pad);
      if (!started) { ctx.moveTo(px, py); started = true; } else ctx.lineTo(px, py);
    });
    ctx.stroke();
  });
  ctx.fillStyle = "#8d97a5"; ctx.font = "10px system-ui";
  ctx.fillText(fmt(hi), 4, 10); ctx.fillText(fmt(lo), 4, h - 2);
}

function applyHealth(hd) {
  const pill = $("#health-pill");
  const s = hd && hd.status;
  pill.textContent = `health ${s || "?"}`;
  pill.className = "pill " + (s === "ok" ? "pill-ok" : s === "degraded" ? "pill-degraded" : s === "failed" ? "pill-bad" : "pill-unknown");
  const ul = $("#health-reasons");
  ul.replaceChildren();
  const reasons = (hd && hd.reasons) || [];
  if (!reasons.length) ul.append(el("li", { class: "muted" }, "all checks ok"));
  for (const r of reasons) ul.append(el("li", {}, r));
}

function applyStatus(s) {
  const pill = $("#status-pill");
  pill.textContent = s;
  pill.className = "pill " + (s === "online" ? "pill-ok" : s === "offline" ? "pill-bad" : "pill-unknown");
}

function addEvent(ev) {
  const ul = $("#events");
  if (ul.firstChild && ul.firstChild.classList && ul.firstChild.classList.contains("muted")) ul.replaceChildren();
  const ts = (ev.ts || "").replace(/^.*T/, "").replace(/\..*$/, "");
  const rest = Object.entries(ev).filter(([k]) => k !== "event" && k !== "ts").map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
  ul.prepend(el("li", {}, el("span", { class: "ts" }, ts), el("strong", {}, ev.event || "event"), " ", rest));
  while (ul.children.length > 50) ul.lastChild.remove();
}

// ------------------------------------------------------------------ settings
// The form is built from GET /api/config/schema (the data docs/settings.md is made of):
// one group per section, a control per type, help, default, range and markers.
function initSettings() {
  $("#settings-save").addEventListener("click", saveSettings);
  $("#settings-reset").addEventListener("click", () => {
    ui.settingsDirty = false; clearErrors($("#settings")); $("#settings-problems").replaceChildren();
    setMessage($("#settings-message"), "", null);
    if (ui.config) renderSettings(ui.config.settings || {});
  });
  $("#restore-file").addEventListener("change", (e) => { if (e.target.files.length) restoreSettings(e.target.files[0]); e.target.value = ""; });
  trackHeaderHeight();
  loadSettingsSchema();
}

// Jump targets keep clear of the sticky header, whatever height it wraps to.
function trackHeaderHeight() {
  const top = $(".top");
  const set = () => document.documentElement.style.setProperty("--header-h", `${top.offsetHeight}px`);
  set();
  if (window.ResizeObserver) new ResizeObserver(set).observe(top);
}

async function loadSettingsSchema() {
  const r = await api("GET", "/api/config/schema");
  if (!r.ok || !r.body) { setMessage($("#settings-message"), `settings help unavailable: ${errorText(r)}`, false); return; }
  ui.schema = r.body;
  if (ui.config && !ui.settingsDirty) renderSettings(ui.config.settings || {});
}

function applyConfig(cfg) {
  ui.config = cfg;
  $("#config-source").textContent = `source: ${cfg.source || "?"} · file: ${cfg.path || "?"}`;
  const restart = cfg.restart_required || [];
  const note = $("#config-restart");
  note.textContent = restart.length ? `Restart needed for: ${restart.join(", ")}` : "";
  note.classList.toggle("hidden", !restart.length);
  if (!ui.settingsDirty) renderSettings(cfg.settings || {});
  markRestartPending(restart);
  renderHistory(cfg.history || []);
}

function markRestartPending(paths) {
  for (const row of document.querySelectorAll("#settings-form .setting")) {
    row.classList.toggle("restart-pending", paths.includes(row.dataset.setting));
  }
}

function valueAt(settings, path) {
  let v = settings;
  for (const p of path.split(".")) v = v != null && typeof v === "object" ? v[p] : undefined;
  return v;
}

// Without the schema (an older bridge), every setting is still editable as before.
function schemaFromValues(settings, prefix = "", section = "general", out = []) {
  for (const [k, v] of Object.entries(settings)) {
    const path = prefix + k;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && path !== "animation.params") {
      schemaFromValues(v, `${path}.`, path, out);
      continue;
    }
    const type = typeof v === "boolean" ? "boolean" : typeof v === "number" ? "number" : v !== null && typeof v === "object" ? "object" : "string";
    out.push({ path, section, type, nullable: v === null, help: "", advanced: false, restart_required: false, local_only: false });
  }
  return out;
}

function renderSettings(settings) {
  const form = $("#settings-form");
  const schema = ui.schema || { sections: [], fields: schemaFromValues(settings) };
  const ids = schema.sections.map((s) => s.id);
  for (const f of schema.fields) if (!ids.includes(f.section)) { ids.push(f.section); schema.sections.push({ id: f.section, title: f.section, help: "" }); }
  const nav = el("nav", { class: "settings-nav", "aria-label": "Settings sections" });
  const groups = [];
  for (const s of schema.sections) {
    const fields = schema.fields.filter((f) => f.section === s.id);
    if (!fields.length) continue;
    const gid = `settings-${s.id.replace(/\./g, "-")}`;
    nav.append(el("a", { href: `#${gid}` }, s.title));
    groups.push(settingsGroup(gid, s, fields, settings));
  }
  form.replaceChildren(nav, ...groups);
  markRestartPending((ui.config && ui.config.restart_required) || []);
}

function settingsGroup(gid, section, fields, settings) {
  const group = el("section", { class: "settings-group", id: gid },
    el("h3", {}, section.title), section.help ? helpText(section.help) : null);
  const basic = fields.filter((f) => !f.advanced);
  const advanced = fields.filter((f) => f.advanced);
  for (const f of basic) group.append(settingRow(f, valueAt(settings, f.path)));
  if (advanced.length) {
    const det = el("details", { class: "advanced" }, el("summary", {}, `Advanced (${advanced.length})`));
    for (const f of advanced) det.append(settingRow(f, valueAt(settings, f.path)));
    group.append(det);
  }
  return group;
}

// Help strings use Markdown `code`; shown as <code>, never as HTML.
function helpText(text, extra) {
  const p = el("p", { class: "help" });
  text.replace(/\\\|/g, "|").split("`").forEach((part, i) => p.append(i % 2 ? el("code", {}, part) : part));
  if (extra) p.append(extra);
  return p;
}

function settingInput(f, value, id) {
  if (f.type === "choice") {
    const sel = el("select", { id });
    if (f.nullable) sel.append(el("option", { value: "null" }, "(none)"));
    for (const c of f.choices) sel.append(el("option", { value: JSON.stringify(c) }, String(c)));
    sel.value = JSON.stringify(value === undefined ? null : value);
    return sel;
  }
  if (f.type === "boolean") return el("input", { type: "checkbox", id, checked: Boolean(value) });
  if (f.type === "integer" || f.type === "number") {
    const n = el("input", { type: "number", id, value: value == null ? "" : String(value), step: f.type === "integer" ? "1" : "any", inputMode: f.type === "integer" ? "numeric" : "decimal" });
    if (f.min != null) n.min = String(f.min);
    if (f.max != null) n.max = String(f.max);
    return n;
  }
  if (f.type === "list" || f.type === "object") return el("textarea", { id, value: JSON.stringify(value === undefined ? null : value, null, 1) });
  return el("input", { type: "text", id, value: value == null ? "" : String(value), placeholder: f.nullable ? "(none)" : "" });
}

function settingMarkers(f) {
  const marks = [];
  if (f.restart_required) marks.push(el("span", { class: "badge badge-restart", title: "takes effect after a restart" }, "restart"));
  if (f.local_only) marks.push(el("span", { class: "badge badge-local", title: "change it in settings.json on the box" }, "local only"));
  return marks;
}

function settingFacts(f) {
  const facts = [];
  if (f.min != null || f.max != null) {
    const lo = f.min == null ? "…" : f.exclusive_min ? `above ${f.min}` : f.min;
    facts.push(`range ${lo}–${f.max ?? "…"}`);
  }
  if (f.default !== undefined && f.default !== null && f.default !== "" && f.path !== "device_id") facts.push(`default ${typeof f.default === "object" ? JSON.stringify(f.default) : f.default}`);
  if (f.local_only) facts.push("local only: edit settings.json on the box, then reload");
  return facts.length ? el("span", { class: "facts" }, ` (${facts.join("; ")})`) : null;
}

function settingRow(f, value) {
  const id = `set-${f.path.replace(/\./g, "-")}`;
  const input = settingInput(f, value, id);
  input.dataset.path = f.path;
  input.dataset.kind = f.type;
  input.dataset.nullable = f.nullable ? "1" : "";
  input.dataset.original = JSON.stringify(value === undefined ? null : value);
  if (f.local_only) {
    if (input.tagName === "SELECT" || input.type === "checkbox") input.disabled = true; else input.readOnly = true;
    input.dataset.local = "1";
  }
  const label = el("label", { htmlFor: id, title: f.path }, f.path.split(".").pop(), ...settingMarkers(f));
  const row = el("div", { class: `setting${f.local_only ? " local-only" : ""}`, dataset: { setting: f.path } },
    label, input, helpText(f.help || "", settingFacts(f)), el("p", { class: "field-error", dataset: { for: f.path } }));
  const mark = () => { ui.settingsDirty = true; row.classList.add("changed"); };
  input.addEventListener("input", mark);
  input.addEventListener("change", mark);
  return row;
}

function readSetting(input) {
  const kind = input.dataset.kind;
  const empty = input.value === "" && input.dataset.nullable;
  if (kind === "boolean") return input.checked;
  if (kind === "choice") return JSON.parse(input.value);
  if (kind === "integer" || kind === "number") {
    if (input.value === "") { if (empty) return null; throw new Error("a number is needed"); }
    const n = Number(input.value);
    if (!Number.isFinite(n)) throw new Error("not a number");
    return n;
  }
  if (kind === "list" || kind === "object") {
    if (empty) return null;
    try { return JSON.parse(input.value); } catch (e) { throw new Error("not valid JSON"); }
  }
  return empty ? null : input.value;
}

function settingsPatch() {
  const patch = {};
  let bad = null;
  for (const input of document.querySelectorAll("#settings-form [data-path]:not([data-local])")) {
    let v;
    try { v = readSetting(input); } catch (e) { bad = input.dataset.path; fieldError($("#settings"), bad, e.message); continue; }
    if (JSON.stringify(v) === input.dataset.original) continue;
    const parts = input.dataset.path.split(".");
    let o = patch;
    for (const p of parts.slice(0, -1)) o = (o[p] = o[p] || {});
    o[parts[parts.length - 1]] = v;
  }
  return { patch, bad };
}

function showProblems(r) {
  const scope = $("#settings");
  const list = $("#settings-problems");
  list.replaceChildren();
  const err = r.body && r.body.error;
  const problems = (err && err.details && err.details.problems) || (err && err.field ? [{ field: err.field, message: err.message }] : []);
  for (const p of problems) {
    if (!fieldError(scope, p.field, p.message)) list.append(el("li", {}, `${p.field}: ${p.message}`));
  }
  setMessage($("#settings-message"), errorText(r), false);
}

async function saveSettings() {
  const scope = $("#settings");
  clearErrors(scope); $("#settings-problems").replaceChildren();
  const { patch, bad } = settingsPatch();
  if (bad) { setMessage($("#settings-message"), "fix the marked fields", false); return; }
  if (!Object.keys(patch).length) { setMessage($("#settings-message"), "nothing changed", null); return; }
  const r = await api("PATCH", "/api/config", patch);
  if (!r.ok) { showProblems(r); return; }
  ui.settingsDirty = false;
  const changed = (r.body.changes || []).map((c) => c.path).join(", ") || "nothing";
  const restart = (r.body.restart_required || []).length ? ` (restart needed: ${r.body.restart_required.join(", ")})` : "";
  setMessage($("#settings-message"), `Saved: ${changed}${restart}`, true);
  if (ui.config) renderSettings(ui.config.settings || {});
}

async function restoreSettings(file) {
  clearErrors($("#settings")); $("#settings-problems").replaceChildren();
  const text = await file.text();
  const r = await api("POST", "/api/config/restore", text, { raw: true });
  if (!r.ok) { showProblems(r); return; }
  ui.settingsDirty = false;
  const kept = (r.body.kept || []).length ? ` (kept from this box, local only: ${r.body.kept.join(", ")})` : "";
  setMessage($("#settings-message"), `Restored ${file.name}${kept}`, true);
}

// An ISO timestamp as the browser's local time; the ISO text stays in the title.
function localTime(iso) {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return iso || "";
  return el("time", { dateTime: iso, title: iso }, d.toLocaleString([], { dateStyle: "medium", timeStyle: "medium" }));
}

function renderHistory(entries) {
  const tb = $("#history");
  tb.replaceChildren();
  for (const h of entries.slice(0, 20)) {
    const paths = (h.changes || []).map((c) => c.path).join(", ");
    tb.append(el("tr", {}, el("td", {}, localTime(h.ts)), el("td", {}, h.source || ""), el("td", {}, paths)));
  }
  if (!entries.length) tb.append(el("tr", {}, el("td", { colSpan: 3, class: "muted" }, "no changes yet")));
}

// ------------------------------------------------------------------ images
async function loadImages() {
  const r = await api("GET", "/api/images");
  const ul = $("#image-list");
  ul.replaceChildren();
  if (!r.ok) return;
  ui.images = new Map(r.body.images.map((img) => [img.id, img.name]));
  labelPlayingImage();
  for (const img of r.body.images) {
    const play = el("button", { type: "button" }, "Play");
    play.addEventListener("click", () => chooseAnimation("image", { image: img.id }));
    const del = el("button", { type: "button", class: "secondary" }, "Delete");
    del.addEventListener("click", () => deleteImage(img));
    ul.append(el("li", { dataset: { id: img.id } },
      el("img", { src: img.url, alt: img.name, loading: "lazy" }),
      el("div", { class: "name" }, img.name),
      el("div", { class: "muted small" }, img.frames > 1 ? `${img.frames} frames, ${(img.duration_ms / 1000).toFixed(1)} s` : "still"),
      el("div", { class: "buttons" }, play, del)));
  }
  if (!r.body.images.length) ul.append(el("li", { class: "muted" }, "no images yet"));
  markPlayingImage();
}

function playingImageId() {
  const st = ui.state;
  return st && st.effect === "image" && st.params ? st.params.image : null;
}

// Deleting the picture on the panel asks first; the engine then shows its default
// animation (it notices the file is gone) and the state says so.
async function deleteImage(img) {
  const playing = playingImageId() === img.id;
  if (playing && !window.confirm(`"${img.name}" is on the panel now. Delete it? The panel goes back to the default animation.`)) return;
  const d = await api("DELETE", `/api/images/${img.id}`);
  if (!d.ok) setMessage($("#upload-message"), errorText(d), false);
  else setMessage($("#upload-message"), playing ? `Deleted ${img.name}; the panel goes back to the default animation` : `Deleted ${img.name}`, true);
  loadImages();
}

function markPlayingImage() {
  const id = playingImageId();
  document.querySelectorAll("#image-list li[data-id]").forEach((li) => li.classList.toggle("playing", li.dataset.id === id));
}

async function upload(ev) {
  ev.preventDefault();
  const input = $("#image-file");
  const msg = $("#upload-message");
  if (!input.files.length) { setMessage(msg, "choose a PNG, GIF or JPEG first", false); return; }
  const fd = new FormData();
  fd.append("file", input.files[0]);
  setMessage(msg, "uploading…", null);
  const r = await api("POST", "/api/images", fd);
  if (!r.ok) { setMessage(msg, errorText(r), false); return; }
  setMessage(msg, `Uploaded ${r.body.name} (${r.body.frames} frame${r.body.frames > 1 ? "s" : ""})`, true);
  input.value = "";
  await loadImages();
}

// ------------------------------------------------------------------ live events
let source = null;
function connect() {
  if (source) source.close();
  source = new EventSource("/api/events?preview=1");
  const on = (name, fn) => source.addEventListener(name, (e) => { try { fn(JSON.parse(e.data)); } catch (err) { console.error(name, err); } });
  on("status", applyStatus);
  on("info", (info) => { $("#device").textContent = info.device_id || ""; });
  on("animations", (cat) => { ui.catalogue = cat; renderCatalogue(); });
  on("state", (st) => { applyState(st); applyLooksState(st); });
  on("health", applyHealth);
  on("metrics", applyMetrics);
  on("events", addEvent);
  on("config", (cfg) => { applyConfig(cfg); applyWindowsConfig(cfg); });
  on("presets", applyPresets);
  on("playlists", applyPlaylists);
  on("schedule", applySchedule);
  on("notifications", applyNotifications);
  on("icons", applyIcons);
  on("preview", drawPreview);
  source.onerror = () => {
    applyStatus("reconnecting");
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  };
}

async function checkSession() {
  const r = await api("GET", "/api/session");
  if (r.ok && r.body.auth_required) {
    const lo = $("#logout");
    lo.classList.remove("hidden");
    lo.addEventListener("click", async () => { await api("POST", "/api/logout", {}); location.href = "/login"; });
  }
}

function init() {
  $("#animation").addEventListener("change", (e) => chooseAnimation(e.target.value));
  const b = $("#brightness");
  b.addEventListener("input", () => { $("#brightness-value").textContent = b.value; sendBrightness(parseInt(b.value, 10)); });
  $("#power").addEventListener("click", async () => {
    const r = await api("POST", "/api/power", { state: "TOGGLE" });
    if (r.ok) applyState(r.body.state); else setMessage($("#control-message"), errorText(r), false);
  });
  $("#identify").addEventListener("click", async () => {
    const r = await api("POST", "/api/identify", { seconds: 5 });
    setMessage($("#control-message"), r.ok ? "Flashing for 5 s" : errorText(r), r.ok);
  });
  initSettings();
  initNotify();
  initLooks();
  initSchedule();
  $("#upload-form").addEventListener("submit", upload);
  setInterval(() => {
    if (ui.lastPreview && Date.now() - ui.lastPreview > 5000) $("#preview-note").textContent = "no frames (engine offline?)";
  }, 2000);
  checkSession();
  loadImages();
  // History first, so the live documents that follow extend it in order.
  loadMetricsHistory().finally(connect);
}

document.addEventListener("DOMContentLoaded", init);
