// LightBox login: exchanges the bridge token for an HttpOnly session cookie.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const err = document.querySelector('.field-error[data-for="token"]');
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const token = document.getElementById("token").value;
    const res = await fetch("/api/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
    }).catch(() => null);
    if (res && res.ok) { location.href = "/"; return; }
    const body = res ? await res.json().catch(() => null) : null;
    err.textContent = (body && body.error && body.error.message) || "the bridge is unreachable";
  });
});
