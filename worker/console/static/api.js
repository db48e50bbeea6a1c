// Talking to the gateway: the key from this tab's session storage, JSON calls, and an SSE reader.
// The key goes only into the Authorization header: never into a URL, the page, or the console log.

const KEY_NAME = "qwq-console-key";

export const session = {
  get key() { return sessionStorage.getItem(KEY_NAME) || ""; },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_NAME, value); else sessionStorage.removeItem(KEY_NAME);
  },
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The error a gateway answer names, in whichever shape the surface uses (OpenAI, Workers, Anthropic).
export async function errorOf(response) {
  let text = "";
  try { text = await response.text(); } catch { /* the body may be gone */ }
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = JSON.parse(text);
    const error = body.error ?? body.errors?.[0] ?? body;
    const said = typeof error === "string" ? error : (error.message || error.error || "");
    const detail = typeof body.detail === "string" ? body.detail : "";
    if (said) message = `${response.status}: ${said}${detail ? ` (${detail})` : ""}`;
  } catch { /* not JSON: keep the status line */ }
  if (response.status === 401) message += " — the key is not valid; sign in again";
  if (response.status === 403) message += " — this key may not do that";
  return new ApiError(response.status, message);
}

export function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${session.key}`, ...extra };
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = authHeaders(body === undefined ? {} : { "Content-Type": "application/json" });
  const response = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

// Calls `onData` with each `data:` payload of an SSE body until the stream ends or `signal` aborts.
export async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, "")).join("\n");
      if (data) onData(data);
    }
  }
}
