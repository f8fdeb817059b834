// LightBox web UI: notifications (contract section 7). The "Send a message" box posts
// to /api/notify; the dashboard lists the showing and queued ones from the retained
// `notifications` document (SSE event `notifications`), each with a dismiss button.
// Uses the helpers of app.js ($, el, api, setMessage, errorText, fieldError, clearErrors).
"use strict";

function notifyBody() {
  const body = { text: $("#notify-text").value };
  const prio = $("#notify-priority").value.trim();
  if (prio !== "") body.priority = Number(prio);
  const dur = $("#notify-duration").value.trim();
  if (dur !== "") body.duration_s = Number(dur);
  const colour = $("#notify-color").value;
  if (colour && colour.toLowerCase() !== "#ffffff") body.color = colour;
  const icon = $("#notify-icon").value;
  if (icon) body.icon = icon;
  if ($("#notify-hold").checked) body.hold = true;
  if ($("#notify-wake").checked) body.wake = true;
  return body;
}

async function sendNotification(ev) {
  ev.preventDefault();
  const form = $("#notify-form");
  const msg = $("#notify-message");
  clearErrors(form);
  const r = await api("POST", "/api/notify", notifyBody());
  if (r.ok) {
    const id = r.body && r.body.notification ? r.body.notification.id : "";
    setMessage(msg, `Sent${id ? " (" + id + ")" : ""}`, true);
    $("#notify-text").value = "";
    return;
  }
  const e = r.body && r.body.error;
  if (e && e.field && fieldError(form, e.field, e.message)) setMessage(msg, "", null);
  else setMessage(msg, errorText(r), false);
}

async function dismissNotification(id) {
  const r = await api("DELETE", "/api/notify/" + encodeURIComponent(id));
  if (!r.ok) setMessage($("#notify-list-message"), errorText(r), false);
}

function clockTime(epoch) {
  return epoch == null ? "" : new Date(epoch * 1000).toLocaleTimeString();
}

function notificationItem(n, showing) {
  const when = showing
    ? (n.ends_at == null ? "showing · held until dismissed" : `showing · until ${clockTime(n.ends_at)}`)
    : `queued ${clockTime(n.queued_at)}`;
  const dismiss = el("button", { type: "button", class: "secondary small-button",
                                 title: "Dismiss", "aria-label": `Dismiss ${n.id}` }, "Dismiss");
  dismiss.addEventListener("click", () => dismissNotification(n.id));
  return el("li", { class: showing ? "notification showing" : "notification", dataset: { id: n.id } },
    el("span", { class: "text" }, n.text),
    el("span", { class: "meta muted small" }, `${when} · priority ${n.priority} · ${n.id}`),
    dismiss);
}

function applyNotifications(doc) {
  const ul = $("#notifications");
  const items = [];
  if (doc && doc.active) items.push(notificationItem(doc.active, true));
  for (const q of (doc && doc.queue) || []) items.push(notificationItem(q, false));
  if (!items.length) items.push(el("li", { class: "muted" }, "no notifications"));
  ul.replaceChildren(...items);
  setMessage($("#notify-list-message"), "", null);
}

// `<base>/icons`: the built-in icon names (a list of names, or of objects with a name).
function applyIcons(doc) {
  const list = Array.isArray(doc) ? doc : (doc && (doc.icons || doc.builtin)) || [];
  const names = list.map((i) => (typeof i === "string" ? i : i && i.name)).filter(Boolean);
  const sel = $("#notify-icon");
  const keep = sel.value;
  sel.replaceChildren(el("option", { value: "" }, "no icon"),
    ...names.map((n) => el("option", { value: n }, n)));
  if (names.includes(keep)) sel.value = keep;
}

function initNotify() {
  $("#notify-form").addEventListener("submit", sendNotification);
}
