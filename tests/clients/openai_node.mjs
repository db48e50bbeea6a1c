// The official `openai` package for Node against a live gateway (chat completions).
// Usage: node openai_node.mjs BASE_URL API_KEY SCENARIO...   (BASE_URL ends in /v1)
// Prints one JSON object: {scenario: {ok: true, ...what it saw} | {ok: false, error, status}}.
// The assertions live in pytest (tests/clients/test_node_clients.py); this only drives the client.
import OpenAI from "openai";

import { runScenarios, weatherTool } from "./harness.mjs";

const [baseURL, apiKey, ...scenarios] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20_000 });
const model = "qwq-32b";
const ask = [{ role: "user", content: "What is an edge gateway?" }];
const weather = { type: "function", function: weatherTool };
const tripFormat = {
  type: "json_schema",
  json_schema: {
    name: "trip",
    strict: true,
    schema: {
      type: "object",
      properties: {
        title: { type: "string" },
        stops: {
          type: "array",
          items: { $ref: "#/$defs/stop" },
        },
        position: { type: "array", prefixItems: [{ type: "number" }, { type: "number" }], items: false },
        id: { type: "string", format: "uuid" },
      },
      required: ["title", "stops", "position", "id"],
      additionalProperties: false,
      $defs: {
        stop: {
          type: "object",
          properties: { name: { type: "string" }, nights: { type: "integer", minimum: 1 } },
          required: ["name", "nights"],
          additionalProperties: false,
        },
      },
    },
  },
};

async function roundTrip(stream) {
  const messages = [{ role: "user", content: "Weather in Paris?" }];
  let call;
  if (stream) {
    const pieces = {};
    const chunks = await client.chat.completions.create({ model, messages, tools: [weather], stream: true });
    for await (const chunk of chunks) {
      for (const delta of chunk.choices[0]?.delta?.tool_calls ?? []) {
        const seen = (pieces[delta.index] ??= { id: "", name: "", arguments: "" });
        seen.id += delta.id ?? "";
        seen.name += delta.function?.name ?? "";
        seen.arguments += delta.function?.arguments ?? "";
      }
    }
    const first = pieces[0];
    call = { id: first.id, type: "function", function: { name: first.name, arguments: first.arguments } };
  } else {
    const first = await client.chat.completions.create({ model, messages, tools: [weather] });
    call = first.choices[0].message.tool_calls[0];
  }
  messages.push({ role: "assistant", content: null, tool_calls: [call] });
  messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify({ temperature: 21 }) });
  const answer = await client.chat.completions.create({ model, messages, tools: [weather] });
  return {
    call: { name: call.function.name, arguments: JSON.parse(call.function.arguments) },
    answer: answer.choices[0].message.content,
    finish: answer.choices[0].finish_reason,
  };
}

const run = {
  async text() {
    const r = await client.chat.completions.create({ model, messages: ask });
    const m = r.choices[0].message;
    return { text: m.content, reasoning: m.reasoning_content ?? "", finish: r.choices[0].finish_reason, usage: r.usage };
  },
  async stream() {
    const chunks = await client.chat.completions.create({
      model,
      messages: ask,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let reasoning = "";
    let finish = null;
    let usage = null;
    for await (const chunk of chunks) {
      const choice = chunk.choices[0];
      text += choice?.delta?.content ?? "";
      reasoning += choice?.delta?.reasoning_content ?? "";
      finish = choice?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    return { text, reasoning, finish, usage };
  },
  tools: () => roundTrip(false),
  tools_stream: () => roundTrip(true),
  async object() {
    const r = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Plan a trip" }], response_format: tripFormat });
    return { object: JSON.parse(r.choices[0].message.content) };
  },
  async object_stream() {
    const chunks = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Plan a trip" }],
      response_format: tripFormat,
      stream: true,
    });
    let text = "";
    for await (const chunk of chunks) text += chunk.choices[0]?.delta?.content ?? "";
    return { object: JSON.parse(text) };
  },
};

await runScenarios(run, scenarios);
