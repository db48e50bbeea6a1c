// The admin pages: keys, usage charts, upstream health and the live request log. Admin keys only:
// the gateway answers 403 to any other key, and the page says so.

import { api, authHeaders, errorOf, readEvents } from "./api.js";
import { $, el, row, say, copyText } from "./dom.js";
import { barChart } from "./chart.js";

let live = null;  // the AbortController of the open live-log stream
// Loads may overlap (a tab opened, then a form sent): only the newest one's answer is shown, so a slow
// older answer never replaces a newer one. The keys list is redrawn only when it changed, so a reload
// does not close a revoke question the user has just opened.
let keysLoad = 0;
let keysShown = "";
let usageLoad = 0;

const numberOrNull = (selector) => ($(selector).value === "" ? undefined : Number($(selector).value));

function limitsOf(key) {
  const parts = [];
  if (key.rpm) parts.push(`${key.rpm} rpm`);
  if (key.tpm) parts.push(`${key.tpm} tpm`);
  if (key.max_concurrency) parts.push(`${key.max_concurrency} at once`);
  if (key.budget_usd) parts.push(`$${key.budget_usd}${key.budget_period ? ` per ${key.budget_period}` : ""}`);
  if (key.expires_at) parts.push(`expires ${new Date(key.expires_at).toLocaleString()}`);
  return parts.join(", ") || "none";
}

function showSecret(secret) {
  $("#key-secret-text").value = secret;
  $("#key-secret").hidden = false;
}

// Revoking cannot be undone: the first click asks, in the row itself, and only "Yes, revoke" acts.
// (A page element rather than window.confirm: it is styled, keyboard reachable and needs no dialog.)
function askToRevoke(actions, key, buttons) {
  const confirm = el("button", { type: "button", class: "confirm-revoke", text: "Yes, revoke",
    "aria-label": `Yes, revoke ${key.name}` });
  const cancel = el("button", { type: "button", class: "cancel-revoke", text: "Cancel",
    "aria-label": `Keep ${key.name}` });
  confirm.addEventListener("click", () => act(() => api(`/admin/v1/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" })));
  cancel.addEventListener("click", () => {
    actions.replaceChildren(...buttons);
    buttons[0].focus();
  });
  actions.replaceChildren(el("span", { class: "revoke-question", role: "alert",
    text: `Revoke ${key.name}? Every request with it fails at once; this cannot be undone.` }), confirm, cancel);
  confirm.focus();
}

function rotateBody() {
  const overlap = numberOrNull("#rotate-overlap");
  return overlap ? { overlap_seconds: overlap } : undefined;
}

async function loadKeys() {
  say("#keys-error", "");
  const load = ++keysLoad;
  try {
    const { data } = await api("/admin/v1/keys");
    const shown = JSON.stringify(data);
    if (load !== keysLoad || shown === keysShown) return;
    keysShown = shown;
    $("#keys-table tbody").replaceChildren(...data.map((key) => {
      const revoke = el("button", { type: "button", class: "revoke", text: "Revoke", "aria-label": `Revoke ${key.name}` });
      const rotate = el("button", { type: "button", class: "rotate", text: "Rotate", "aria-label": `Rotate ${key.name}` });
      const actions = el("span", { class: "key-actions" }, revoke, rotate);
      revoke.addEventListener("click", () => askToRevoke(actions, key, [revoke, rotate]));
      rotate.addEventListener("click", () => act(async () => {
        const rotated = await api(`/admin/v1/keys/${encodeURIComponent(key.id)}/rotate`, { method: "POST", body: rotateBody() });
        showSecret(rotated.key);
      }));
      const lastUsed = key.last_used_at;
      const line = row(key.name, key.id, key.role, key.status || "active", (key.models || []).join(", ") || "all",
        limitsOf(key), lastUsed ? new Date(lastUsed).toLocaleString() : "never", key.status === "revoked" ? "" : actions);
      line.dataset.keyId = key.id;
      return line;
    }));
  } catch (error) {
    if (load === keysLoad) say("#keys-error", error.message);
  }
}

async function act(action) {
  say("#keys-error", "");
  try {
    await action();
  } catch (error) {
    say("#keys-error", error.message);
  }
  await loadKeys();
}

async function createKey(event) {
  event.preventDefault();
  const body = { name: $("#key-name").value.trim(), role: $("#key-role").value };
  const models = $("#key-models").value.split(",").map((m) => m.trim()).filter(Boolean);
  if (models.length) body.models = models;
  for (const [field, selector] of [["rpm", "#key-rpm"], ["tpm", "#key-tpm"], ["max_concurrency", "#key-concurrency"], ["budget_usd", "#key-budget"]]) {
    const value = numberOrNull(selector);
    if (value !== undefined) body[field] = value;
  }
  if ($("#key-period").value) body.budget_period = $("#key-period").value;
  if ($("#key-expiry").value) body.expires_at = new Date($("#key-expiry").value).toISOString();
  await act(async () => {
    const created = await api("/admin/v1/keys", { method: "POST", body });
    showSecret(created.key);
    $("#key-form").reset();
  });
}

async function loadUsage(event) {
  event?.preventDefault();
  say("#usage-error", "");
  const group = $("#usage-group").value;
  const load = ++usageLoad;
  try {
    const { data } = await api(`/admin/v1/usage?group_by=${encodeURIComponent(group)}&format=json`);
    if (load !== usageLoad) return;
    const labelOf = (r) => (group === "key" ? r.key_id : group === "model" ? r.model : r.period) || "—";
    const labels = data.map(labelOf);
    barChart($("#usage-tokens"), labels, data.map((r) => (r.prompt_tokens || 0) + (r.completion_tokens || 0)));
    barChart($("#usage-cost"), labels, data.map((r) => r.cost_usd || 0), (v) => `$${v.toFixed(4)}`);
    $("#usage-table tbody").replaceChildren(...data.map((r) => row(labelOf(r), r.requests, r.errors,
      r.prompt_tokens, r.completion_tokens, r.reasoning_tokens, (r.cost_usd || 0).toFixed(6))));
  } catch (error) {
    if (load === usageLoad) say("#usage-error", error.message);
  }
}

async function loadHealth() {
  // /readyz answers 503 with the same body when a model has no target left: both are worth showing.
  const response = await fetch("/readyz");
  const body = await response.json().catch(() => ({}));
  say("#health-summary", `Gateway ${body.status || response.status}`);
  const rows = [];
  for (const [model, facts] of Object.entries(body.models || {})) {
    for (const target of facts.targets || []) {
      rows.push(row(model, target.name, target.adapter, target.origin,
        target.state + (target.retry_in ? ` (retry in ${target.retry_in}s)` : ""),
        `${target.failures} of ${target.attempts}`,
        target.keys ? `${target.keys_resting} of ${target.keys}` : "—"));
    }
  }
  $("#health-table tbody").replaceChildren(...rows);
}

function addLiveRow(entry) {
  const tokens = entry.prompt_tokens === null ? "—"
    : `${entry.prompt_tokens} + ${entry.completion_tokens} ($${entry.cost_usd.toFixed(6)})`;
  const line = row(new Date(entry.time * 1000).toLocaleTimeString(), entry.method, entry.path, entry.status,
    entry.model || "—", entry.key_id || "—", tokens, `${entry.duration_ms} ms`);
  line.dataset.requestId = entry.id;
  const body = $("#live-table tbody");
  body.prepend(line);
  while (body.rows.length > 200) body.deleteRow(-1);
}

async function openLive() {
  stopLive();
  live = new AbortController();
  $("#live-table tbody").replaceChildren();
  say("#live-status", "Connecting…");
  try {
    // fetch rather than EventSource: EventSource cannot send the Authorization header.
    const response = await fetch("/admin/v1/requests/live", { headers: authHeaders(), signal: live.signal });
    if (!response.ok) throw await errorOf(response);
    say("#live-status", "Connected: new requests appear at the top.");
    await readEvents(response, (data) => addLiveRow(JSON.parse(data)));
    say("#live-status", "The stream ended.");
  } catch (error) {
    if (error.name !== "AbortError") say("#live-status", error.message);
  }
}

export function stopLive() {
  live?.abort();
  live = null;
}

export function showAdminPage(page) {
  if (page === "keys") loadKeys();
  if (page === "usage") loadUsage();
  if (page === "health") loadHealth().catch((error) => say("#health-summary", error.message));
  if (page === "live") openLive();
}

export function setUpAdmin() {
  $("#key-form").addEventListener("submit", createKey);
  $("#key-secret-copy").addEventListener("click", async () => {
    const copied = await copyText($("#key-secret-text").value);
    $("#key-secret-copy").textContent = copied ? "Copied" : "Select and copy the key";
  });
  $("#usage-form").addEventListener("submit", loadUsage);
  $("#health-refresh").addEventListener("click", () => loadHealth().catch((error) => say("#health-summary", error.message)));
}
