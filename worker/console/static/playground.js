// The playground: one conversation with a model, streamed, with QwQ's thinking kept apart from its answer.

import { api, authHeaders, errorOf, readEvents } from "./api.js";
import { $, el, say, copyText } from "./dom.js";

let messages = [];        // the conversation so far, in OpenAI's message shape (the system prompt apart)
let controller = null;    // the AbortController of the request under way

export async function loadModels() {
  const models = await api("/v1/models");
  const select = $("#pg-model");
  const chosen = select.value;
  select.replaceChildren(...models.data.map((m) => el("option", { value: m.id, text: m.id })));
  if (chosen && models.data.some((m) => m.id === chosen)) select.value = chosen;
}

function parsedJson(selector, what) {
  const text = $(selector).value.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${error.message}`);
  }
}

// The request the form describes: where it goes, its extra headers and its body.
export function currentRequest() {
  const model = $("#pg-model").value;
  const mode = $("#pg-reasoning").value;
  const system = $("#pg-system").value.trim();
  const body = {
    model,
    messages: [...(system ? [{ role: "system", content: system }] : []), ...messages],
    stream: true,
    stream_options: { include_usage: true },
  };
  const temperature = $("#pg-temperature").value;
  if (temperature !== "") body.temperature = Number(temperature);
  const maxTokens = $("#pg-max-tokens").value;
  if (maxTokens !== "") body.max_tokens = Number(maxTokens);
  const tools = parsedJson("#pg-tools", "The tools");
  if (tools !== undefined) body.tools = tools;
  const schema = parsedJson("#pg-schema", "The JSON schema");
  if (schema !== undefined) {
    body.response_format = { type: "json_schema", json_schema: { name: "answer", schema } };
  }
  // The OpenAI surface always hands reasoning out apart; the model's own route can hide it or keep it inline.
  if (mode === "separate") return { path: "/v1/chat/completions", headers: {}, body };
  return { path: `/${encodeURIComponent(model)}?shape=choices`, headers: { "X-Reasoning-Mode": mode }, body };
}

const quote = (text) => `'${text.replaceAll("'", "'\\''")}'`;

export function curlOf(request) {
  const lines = [`curl -N ${quote(location.origin + request.path)}`, `-H "Authorization: Bearer $QWQ_API_KEY"`,
    `-H 'Content-Type: application/json'`];
  for (const [name, value] of Object.entries(request.headers)) lines.push(`-H ${quote(`${name}: ${value}`)}`);
  lines.push(`--data ${quote(JSON.stringify(request.body))}`);
  return lines.join(" \\\n  ");
}

function turnView(role) {
  const view = {
    item: el("li", { class: `turn ${role}` }),
    thinking: el("pre", { class: "thinking-text" }),
    answer: el("pre", { class: "answer" }),
    calls: el("div", { class: "tool-calls" }),
    usage: el("p", { class: "usage" }),
  };
  view.panel = el("details", { class: "thinking", open: "" }, el("summary", { text: "Thinking" }), view.thinking);
  view.panel.hidden = true;
  view.item.append(el("h3", { text: role === "user" ? "You" : "Model" }), view.panel, view.answer, view.calls, view.usage);
  $("#transcript").append(view.item);
  return view;
}

function showUser(text) {
  turnView("user").answer.textContent = text;
}

// The gateway prices each answer itself (`usage.estimated_cost`, at the answering target's prices).
function showUsage(view, usage) {
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  const cost = usage.estimated_cost;
  view.usage.textContent = `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens`
    + (reasoning ? ` (${reasoning} reasoning)` : "") + (typeof cost === "number" ? ` · $${cost.toFixed(6)}` : "");
}

function showToolCalls(view, calls) {
  const results = calls.map((call) => {
    const id = `result-${call.id}`;
    const box = el("textarea", { id, rows: "2", class: "tool-result" });
    view.calls.append(el("div", { class: "tool-call" },
      el("p", { class: "tool-name", text: `Tool call: ${call.function.name}` }),
      el("pre", { class: "tool-args", text: call.function.arguments }),
      el("label", { for: id, text: `Result of ${call.function.name} (${call.id})` }), box));
    return { call, box };
  });
  const send = el("button", { type: "button", class: "send-results", text: "Send tool results" });
  send.addEventListener("click", () => {
    send.disabled = true;
    for (const { call, box } of results) messages.push({ role: "tool", tool_call_id: call.id, content: box.value });
    run();
  });
  view.calls.append(send);
}

function setBusy(busy) {
  $("#pg-send").disabled = busy;
  $("#pg-stop").disabled = !busy;
}

export async function run() {
  say("#pg-error", "");
  let request;
  try {
    request = currentRequest();
  } catch (error) {
    say("#pg-error", error.message);
    return;
  }
  const view = turnView("assistant");
  const calls = [];
  let answer = "";
  controller = new AbortController();
  setBusy(true);
  say("#pg-status", "Waiting for the model…");
  try {
    const response = await fetch(request.path, {
      method: "POST", signal: controller.signal, body: JSON.stringify(request.body),
      headers: authHeaders({ "Content-Type": "application/json", ...request.headers }),
    });
    if (!response.ok) throw await errorOf(response);
    say("#pg-status", "Streaming…");
    await readEvents(response, (data) => {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message || String(chunk.error));
      if (chunk.usage) showUsage(view, chunk.usage);
      const delta = chunk.choices?.[0]?.delta;
      if (!delta) return;
      if (delta.reasoning_content) {
        view.panel.hidden = false;
        view.thinking.textContent += delta.reasoning_content;
      }
      if (delta.content) {
        answer += delta.content;
        view.answer.textContent = answer;
      }
      for (const part of delta.tool_calls || []) {
        const call = (calls[part.index ?? 0] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
        if (part.id) call.id = part.id;
        if (part.function?.name) call.function.name += part.function.name;
        if (part.function?.arguments) call.function.arguments += part.function.arguments;
      }
    });
    say("#pg-status", "Done.");
  } catch (error) {
    if (error.name === "AbortError") say("#pg-status", "Stopped.");
    else { say("#pg-status", ""); say("#pg-error", error.message); }
  } finally {
    controller = null;
    setBusy(false);
  }
  view.panel.open = false;
  messages.push({ role: "assistant", content: answer, ...(calls.length ? { tool_calls: calls } : {}) });
  if (calls.length) showToolCalls(view, calls);
}

export function setUpPlayground() {
  $("#prompt-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("#pg-message").value;
    if (!text.trim() || controller) return;
    messages.push({ role: "user", content: text });
    showUser(text);
    $("#pg-message").value = "";
    run();
  });
  $("#pg-message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("#prompt-form").requestSubmit();
  });
  $("#pg-stop").addEventListener("click", () => controller?.abort());
  $("#pg-clear").addEventListener("click", () => {
    controller?.abort();
    messages = [];
    $("#transcript").replaceChildren();
    say("#pg-error", "");
    say("#pg-status", "");
  });
  $("#pg-curl").addEventListener("click", async () => {
    say("#pg-error", "");
    let text;
    try {
      const pending = $("#pg-message").value;
      const saved = messages;
      if (pending.trim()) messages = [...messages, { role: "user", content: pending }];
      try { text = curlOf(currentRequest()); } finally { messages = saved; }
    } catch (error) {
      say("#pg-error", error.message);
      return;
    }
    const box = $("#pg-curl-text");
    box.value = text;
    box.hidden = false;
    $(".curl-label").hidden = false;
    say("#pg-status", (await copyText(text)) ? "curl command copied (the key is read from $QWQ_API_KEY)." : "curl command shown below.");
  });
}
