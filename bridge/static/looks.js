// LightBox web UI: presets, playlists and the live-input line (contract sections 8 and 9).
// "Save current look" stores what shows now under a name it asks for; the playlist
// builder picks presets, orders them (up/down), gives each a duration and saves
// them with cross-fade, shuffle and repeat. Lists come live from the retained
// `presets` / `playlists` documents (SSE), what plays from `state.preset`,
// `state.playlist` and `state.live`. Uses the helpers of app.js ($, el, api,
// setMessage, errorText, fieldError, clearErrors, playingName).
"use strict";

const looks = { presets: [], playlists: [], draft: [], state: null };

// A preset/playlist name: 1-40 letters, digits, space, _ and -, no space at either end.
const LOOK_NAME_RE = /^[A-Za-z0-9_-](?:[A-Za-z0-9 _-]{0,38}[A-Za-z0-9_-])?$/;

function suggestName() {
  const base = (playingName() || "Look").replace(/[^A-Za-z0-9 _-]+/g, " ")
    .replace(/\s+/g, " ").trim().slice(0, 34) || "Look";
  const taken = new Set(looks.presets.map((p) => p.name));
  for (let n = 1; n < 1000; n++) {
    const name = `${base} ${n}`;
    if (!taken.has(name)) return name;
  }
  return base;
}

// A refusal: next to its field when the scope has one, else in the message line.
function showRefusal(scope, msg, r, rename) {
  const e = r.body && r.body.error;
  const field = e && e.field ? (rename ? rename(e.field) : e.field) : null;
  if (field && fieldError(scope, field, e.message)) setMessage(msg, "", null);
  else setMessage(msg, errorText(r), false);
}

// ------------------------------------------------------------------ presets
async function saveCurrentLook() {
  const scope = $("#presets-card");
  const msg = $("#preset-message");
  clearErrors(scope);
  const name = window.prompt("Name for the look showing now", suggestName());
  if (name === null) return;
  const r = await api("POST", "/api/presets", { save: name.trim() });
  if (r.ok) setMessage(msg, `Saved "${name.trim()}"`, true);
  else showRefusal(scope, msg, r);
}

async function presetAction(method, name, verb) {
  const path = "/api/presets/" + encodeURIComponent(name) + (verb ? "/" + verb : "");
  const r = await api(method, path);
  setMessage($("#preset-message"), r.ok ? (verb ? `Showing "${name}"` : `Deleted "${name}"`) : errorText(r), r.ok);
}

function presetItem(p) {
  const apply = el("button", { type: "button", class: "small-button", "aria-label": `Apply ${p.name}` }, "Apply");
  apply.addEventListener("click", () => presetAction("POST", p.name, "apply"));
  const del = el("button", { type: "button", class: "secondary small-button", "aria-label": `Delete ${p.name}` }, "Delete");
  del.addEventListener("click", () => { if (window.confirm(`Delete preset "${p.name}"?`)) presetAction("DELETE", p.name); });
  const level = p.brightness == null ? "" : ` · ${p.brightness} %`;
  return el("li", { dataset: { name: p.name } },
    el("span", { class: "text" }, p.name),
    el("span", { class: "meta muted small" }, `${p.animation}${level}`), apply, del);
}

function applyPresets(doc) {
  looks.presets = Array.isArray(doc) ? doc : [];
  const items = looks.presets.map(presetItem);
  $("#preset-list").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "no presets yet")]));
  const sel = $("#pl-add-preset");
  const keep = sel.value;
  sel.replaceChildren(...looks.presets.map((p) => el("option", { value: p.name }, p.name)));
  if (looks.presets.some((p) => p.name === keep)) sel.value = keep;
  $("#pl-add").disabled = !looks.presets.length;
  markPlaying();
  if (typeof refreshWindowTargets === "function") refreshWindowTargets();
}

// ------------------------------------------------------------------ playlists
function itemLabel(it) {
  return it.preset != null ? it.preset : `animation: ${it.animation}`;
}

function moveItem(i, by) {
  const j = i + by;
  if (j < 0 || j >= looks.draft.length) return;
  [looks.draft[i], looks.draft[j]] = [looks.draft[j], looks.draft[i]];
  renderDraft();
}

function draftItem(it, i) {
  const dur = el("input", { type: "number", min: 1, max: 86400, step: 1, value: it.duration_s,
                            "aria-label": `Seconds for item ${i + 1}` });
  dur.addEventListener("input", () => { it.duration_s = Number(dur.value); });
  const btn = (label, text, fn) => {
    const b = el("button", { type: "button", class: "secondary small-button", "aria-label": label }, text);
    b.addEventListener("click", fn);
    return b;
  };
  return el("li", { dataset: { index: String(i) } },
    el("span", { class: "text" }, itemLabel(it)),
    el("label", { class: "small" }, dur, " s"),
    btn(`Move item ${i + 1} up`, "↑", () => moveItem(i, -1)),
    btn(`Move item ${i + 1} down`, "↓", () => moveItem(i, 1)),
    btn(`Remove item ${i + 1}`, "✕", () => { looks.draft.splice(i, 1); renderDraft(); }),
    el("p", { class: "field-error", dataset: { for: `items.${i}.duration_s` } }));
}

function renderDraft() {
  const items = looks.draft.map(draftItem);
  $("#pl-items").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "pick presets above")]));
}

function draftBody() {
  const body = { save: $("#pl-name").value.trim(), items: looks.draft.map((it) => {
    const out = { duration_s: Number(it.duration_s) };
    if (it.preset != null) out.preset = it.preset;
    else { out.animation = it.animation; if (it.params) out.params = it.params; }
    return out;
  }), shuffle: $("#pl-shuffle").checked, repeat: $("#pl-repeat").checked };
  const t = $("#pl-transition").value.trim();
  if (t !== "") body.transition_s = Number(t);
  return body;
}

async function savePlaylist(ev) {
  ev.preventDefault();
  const form = $("#playlist-form");
  const msg = $("#playlist-message");
  clearErrors(form);
  const body = draftBody();
  if (!LOOK_NAME_RE.test(body.save)) { fieldError(form, "save", "a name: 1-40 letters, digits, space, _ or -"); return; }
  if (!body.items.length) { fieldError(form, "items", "add at least one preset"); return; }
  const r = await api("POST", "/api/playlists", body);
  if (r.ok) { setMessage(msg, `Saved "${body.save}"`, true); return; }
  // items.N.x has its own line; deeper item errors go to the list's line.
  showRefusal(form, msg, r, (f) => (/^items\.\d+\.duration_s$/.test(f) ? f : f.split(".")[0]));
}

function editPlaylist(p) {
  $("#pl-name").value = p.name;
  looks.draft = (p.items || []).map((it) => ({ ...it }));
  $("#pl-shuffle").checked = !!p.shuffle;
  $("#pl-repeat").checked = p.repeat !== false;
  $("#pl-transition").value = p.transition_s != null ? p.transition_s : 1;
  clearErrors($("#playlist-form"));
  renderDraft();
}

async function playlistCommand(method, path, done) {
  const r = await api(method, path);
  setMessage($("#playlist-message"), r.ok ? done : errorText(r), r.ok);
}

function playlistItem(p) {
  const enc = encodeURIComponent(p.name);
  const play = el("button", { type: "button", class: "small-button", "aria-label": `Play ${p.name}` }, "Play");
  play.addEventListener("click", () => playlistCommand("POST", `/api/playlists/${enc}/apply`, `Playing "${p.name}"`));
  const edit = el("button", { type: "button", class: "secondary small-button", "aria-label": `Edit ${p.name}` }, "Edit");
  edit.addEventListener("click", () => editPlaylist(p));
  const del = el("button", { type: "button", class: "secondary small-button", "aria-label": `Delete ${p.name}` }, "Delete");
  del.addEventListener("click", () => {
    if (window.confirm(`Delete playlist "${p.name}"?`)) playlistCommand("DELETE", `/api/playlists/${enc}`, `Deleted "${p.name}"`);
  });
  const n = (p.items || []).length;
  const how = [`${n} item${n === 1 ? "" : "s"}`, p.shuffle ? "shuffle" : "", p.repeat === false ? "once" : "repeat"]
    .filter(Boolean).join(" · ");
  return el("li", { dataset: { name: p.name } }, el("span", { class: "text" }, p.name),
    el("span", { class: "meta muted small" }, how), play, edit, del);
}

function applyPlaylists(doc) {
  looks.playlists = Array.isArray(doc) ? doc : [];
  const items = looks.playlists.map(playlistItem);
  $("#playlist-list").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "no playlists yet")]));
  markPlaying();
  if (typeof refreshWindowTargets === "function") refreshWindowTargets();
}

// ------------------------------------------------------------------ what plays
function markPlaying() {
  const st = looks.state || {};
  document.querySelectorAll("#preset-list li[data-name]").forEach((li) =>
    li.classList.toggle("playing", li.dataset.name === st.preset));
  const pl = st.playlist;
  document.querySelectorAll("#playlist-list li[data-name]").forEach((li) =>
    li.classList.toggle("playing", !!pl && li.dataset.name === pl.name));
  let now = "no playlist playing";
  if (pl) {
    const def = looks.playlists.find((p) => p.name === pl.name);
    const count = def ? ` of ${def.items.length}` : "";
    const next = pl.next_at ? ` · next at ${new Date(pl.next_at * 1000).toLocaleTimeString()}` : "";
    now = `Playing "${pl.name}": item ${pl.index + 1}${count} (${pl.item ? itemLabel(pl.item) : "?"})${next}`;
  }
  $("#playlist-now").textContent = now;
  ["#pl-next", "#pl-previous", "#pl-stop"].forEach((s) => { $(s).disabled = !pl; });
}

function applyLive(live) {
  const status = $("#live-status");
  if (!live) { status.textContent = "not reported"; return; }
  status.textContent = live.active
    ? `showing ${live.protocol || "?"} from ${live.source || "?"} at ${live.fps != null ? Number(live.fps).toFixed(0) : "?"} fps`
    : "no stream";
  status.classList.toggle("muted", !live.active);
  const sel = $("#live-mode");
  if (live.mode && sel !== document.activeElement) sel.value = live.mode;
}

function applyLooksState(st) {
  if (!st) return;
  looks.state = st;
  markPlaying();
  applyLive(st.live);
}

async function setLiveMode() {
  clearErrors($("#control"));
  const r = await api("POST", "/api/live", { mode: $("#live-mode").value });
  if (r.ok) { applyLooksState(r.body.state); setMessage($("#control-message"), `Live input: ${$("#live-mode").value}`, true); }
  else showRefusal($("#control"), $("#control-message"), r);
}

function initLooks() {
  $("#preset-save").addEventListener("click", saveCurrentLook);
  $("#pl-add").addEventListener("click", () => {
    const name = $("#pl-add-preset").value;
    if (!name) return;
    looks.draft.push({ preset: name, duration_s: 60 });
    renderDraft();
  });
  $("#pl-clear").addEventListener("click", () => { $("#pl-name").value = ""; looks.draft = []; renderDraft(); });
  $("#playlist-form").addEventListener("submit", savePlaylist);
  $("#pl-next").addEventListener("click", () => playlistCommand("POST", "/api/playlist/next", "Next item"));
  $("#pl-previous").addEventListener("click", () => playlistCommand("POST", "/api/playlist/previous", "Previous item"));
  $("#pl-stop").addEventListener("click", () => playlistCommand("POST", "/api/playlist/stop", "Stopped"));
  $("#live-mode").addEventListener("change", setLiveMode);
  renderDraft();
  markPlaying();
}
