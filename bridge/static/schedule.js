// LightBox web UI: the schedule card (contract section 8). The windows on a 24-hour
// strip for each of the next 7 days, with the computed sunrise/sunset marks (both
// from the retained `schedule` document's `week`), pause/resume (POST /api/schedule),
// and an editor for the windows in settings (`schedule`, saved by PATCH /api/config;
// a refused value shows next to its field). Uses the helpers of app.js and looks.js.
"use strict";

const sched = { doc: null, windows: [], editing: null };
const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

// "HH:MM[:SS]" -> minutes after midnight ("24:00" is the end of the day).
function minutesOf(hhmm) {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(String(hhmm || ""));
  if (!m) return null;
  return Math.min(24 * 60, Number(m[1]) * 60 + Number(m[2]) + Number(m[3] || 0) / 60);
}

function pct(minutes) { return `${(minutes / (24 * 60)) * 100}%`; }

// Placed through the CSSOM (the CSP allows no inline style attributes).
function at(node, left, width) {
  node.style.left = left;
  if (width) node.style.width = width;
  return node;
}

function dayLabel(iso) {
  const d = new Date(iso + "T12:00:00");
  return isNaN(d) ? iso : d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
}

function stripRow(day) {
  const track = el("div", { class: "track" });
  for (const h of [6, 12, 18]) track.append(at(el("span", { class: "tick" }), pct(h * 60)));
  for (const s of day.spans || []) {
    const a = minutesOf(s.start), b = minutesOf(s.end);
    if (a == null || b == null || b <= a) continue;
    track.append(at(el("span", { class: "span", title: `${s.name}: ${s.start}–${s.end}`,
                                 dataset: { name: s.name } }, s.name), pct(a), pct(b - a)));
  }
  for (const [key, sign] of [["sunrise", "↑"], ["sunset", "↓"]]) {
    const m = minutesOf(day[key]);
    if (m == null) continue;  // polar day or night: no such time that day
    track.append(at(el("span", { class: `sun ${key}`, title: `${key} ${day[key]}` }, sign), pct(m)));
  }
  return el("div", { class: "strip-row", dataset: { date: day.date } },
    el("span", { class: "day small" }, dayLabel(day.date)), track);
}

function applySchedule(doc) {
  sched.doc = doc && typeof doc === "object" ? doc : null;
  const toggle = $("#schedule-toggle");
  toggle.disabled = !sched.doc;
  if (!sched.doc) return;
  const on = sched.doc.enabled !== false;
  toggle.textContent = on ? "Pause schedules" : "Resume schedules";
  const active = (sched.doc.active || []).length ? `open: ${sched.doc.active.join(", ")}` : "no window open";
  const nx = sched.doc.next;
  const when = nx && nx.at ? new Date(nx.at) : null;
  const next = when && !isNaN(when) ? ` · next: ${nx.name} ${nx.change === "end" ? "ends" : "starts"} ${when.toLocaleString()}` : "";
  const tz = sched.doc.timezone ? ` · ${sched.doc.timezone}` : "";
  $("#schedule-status").textContent = `${on ? "Schedules on" : "Schedules paused"} · ${active}${next}${tz}`;
  const rows = (sched.doc.week || []).map(stripRow);
  const scale = el("div", { class: "strip-row scale small muted" }, el("span", { class: "day" }, ""),
    el("div", { class: "track" }, ...[0, 6, 12, 18].map((h) => at(el("span", {}, `${h}:00`), pct(h * 60)))));
  $("#schedule-strip").replaceChildren(...(rows.length ? [scale, ...rows] : [el("p", { class: "muted small" }, "no days computed yet")]));
}

async function toggleSchedule() {
  if (!sched.doc) return;
  const resume = sched.doc.enabled === false;
  const r = await api("POST", "/api/schedule", { enabled: resume });
  setMessage($("#schedule-message"), r.ok ? (resume ? "Schedules resumed" : "Schedules paused") : errorText(r), r.ok);
}

// ------------------------------------------------------------------ the windows (settings)
function actionText(a) {
  if (!a) return "?";
  if (a.preset != null) return `preset ${a.preset}`;
  if (a.playlist != null) return `playlist ${a.playlist}`;
  if (a.power != null) return "power off";
  if (a.brightness_max != null) return `brightness ≤ ${a.brightness_max} %`;
  return "?";
}

function windowItem(w, i) {
  const edit = el("button", { type: "button", class: "secondary small-button", "aria-label": `Edit ${w.name}` }, "Edit");
  edit.addEventListener("click", () => editWindow(i));
  const del = el("button", { type: "button", class: "secondary small-button", "aria-label": `Delete ${w.name}` }, "Delete");
  del.addEventListener("click", () => { if (window.confirm(`Delete window "${w.name}"?`)) saveWindows(sched.windows.filter((_, j) => j !== i), null); });
  const days = !w.days || w.days.length === 7 ? "every day" : w.days.join(" ");
  return el("li", { class: w.enabled === false ? "disabled" : "", dataset: { index: String(i) } },
    el("span", { class: "text" }, w.name),
    el("span", { class: "meta muted small" }, `${w.start}–${w.end} · ${days} · ${actionText(w.action)}${w.enabled === false ? " · off" : ""}`),
    edit, del);
}

function applyWindowsConfig(cfg) {
  const list = cfg && cfg.settings && Array.isArray(cfg.settings.schedule) ? cfg.settings.schedule : [];
  sched.windows = list;
  const items = list.map(windowItem);
  $("#window-list").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "no windows")]));
}

function refreshWindowTargets() {
  const kind = $("#w-action").value;
  const sel = $("#w-target");
  const keep = sel.value;
  const names = (kind === "playlist" ? looks.playlists : looks.presets).map((p) => p.name);
  sel.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  if (names.includes(keep)) sel.value = keep;
  $("#w-target-label").classList.toggle("hidden", kind !== "preset" && kind !== "playlist");
  $("#w-cap-label").classList.toggle("hidden", kind !== "brightness_max");
}

function fillWindowForm(w) {
  $("#w-name").value = w ? w.name : "";
  $("#w-start").value = w ? w.start : "";
  $("#w-end").value = w ? w.end : "";
  $("#w-enabled").checked = !w || w.enabled !== false;
  const days = w && w.days ? w.days : DAY_NAMES;
  document.querySelectorAll("#w-days input").forEach((c) => { c.checked = days.includes(c.value); });
  const a = (w && w.action) || { preset: "" };
  const kind = ["preset", "playlist", "power", "brightness_max"].find((k) => a[k] != null) || "preset";
  $("#w-action").value = kind;
  refreshWindowTargets();
  if (kind === "preset" || kind === "playlist") {
    const sel = $("#w-target");
    if (a[kind] && ![...sel.options].some((o) => o.value === a[kind])) sel.append(el("option", { value: a[kind] }, a[kind]));
    if (a[kind]) sel.value = a[kind];
  }
  if (kind === "brightness_max") $("#w-cap").value = a.brightness_max;
  $("#window-form-title").textContent = w ? `Edit window "${w.name}"` : "Add a window";
  clearErrors($("#window-form"));
}

function editWindow(i) {
  sched.editing = i;
  fillWindowForm(sched.windows[i]);
  $("#w-name").focus();
}

function windowFromForm() {
  const kind = $("#w-action").value;
  const action = kind === "power" ? { power: "OFF" }
    : kind === "brightness_max" ? { brightness_max: Number($("#w-cap").value) }
    : { [kind]: $("#w-target").value };
  const days = [...document.querySelectorAll("#w-days input")].filter((c) => c.checked).map((c) => c.value);
  return { name: $("#w-name").value.trim(), days, start: $("#w-start").value.trim(),
           end: $("#w-end").value.trim(), action, enabled: $("#w-enabled").checked };
}

// A problem's dotted path: schedule.N.field -> the form's field when N is the one edited.
function windowField(path, index) {
  const m = /^schedule\.(\d+)\.([a-z_]+)/.exec(path || "");
  if (!m || Number(m[1]) !== index) return null;
  return m[2];
}

async function saveWindows(list, index) {
  const form = $("#window-form");
  const msg = $("#schedule-message");
  clearErrors(form);
  const r = await api("PATCH", "/api/config", { schedule: list });
  if (r.ok) {
    setMessage(msg, "Schedule saved", true);
    if (index != null) { sched.editing = null; fillWindowForm(null); }
    return;
  }
  const e = r.body && r.body.error;
  const problems = (e && e.details && e.details.problems) || (e && e.field ? [{ field: e.field, message: e.message }] : []);
  const shown = new Set();  // the first problem of a field says it (an action lists one per kind)
  for (const p of problems) {
    const f = index != null ? windowField(p.field, index) : null;
    if (f && !shown.has(f) && fieldError(form, f, p.message)) shown.add(f);
  }
  setMessage(msg, shown.size ? "" : errorText(r), shown.size ? null : false);
}

function submitWindow(ev) {
  ev.preventDefault();
  const w = windowFromForm();
  const kind = $("#w-action").value;
  if ((kind === "preset" || kind === "playlist") && !w.action[kind]) {
    clearErrors($("#window-form"));
    fieldError($("#window-form"), "action", `save a ${kind} first, then pick it here`);
    return;
  }
  const list = sched.windows.slice();
  const index = sched.editing != null ? sched.editing : list.length;
  list[index] = w;
  saveWindows(list, index);
}

function initSchedule() {
  $("#w-days").replaceChildren(...DAY_NAMES.map((d) =>
    el("label", {}, el("input", { type: "checkbox", value: d, checked: true }), ` ${d}`)));
  $("#schedule-toggle").addEventListener("click", toggleSchedule);
  $("#w-action").addEventListener("change", refreshWindowTargets);
  $("#window-form").addEventListener("submit", submitWindow);
  $("#w-new").addEventListener("click", () => { sched.editing = null; fillWindowForm(null); });
  refreshWindowTargets();
}
