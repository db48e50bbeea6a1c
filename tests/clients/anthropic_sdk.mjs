// The Node Anthropic SDK (@anthropic-ai/sdk) against a live gateway: one scenario per run, named by the
// first argument; the gateway's URL and key come from GATEWAY_URL and GATEWAY_KEY. Prints one JSON
// object (what the scenario saw) on stdout; a failure is printed as {"error": ...} with exit status 1.
import Anthropic from "@anthropic-ai/sdk";
import { betaTool } from "@anthropic-ai/sdk/helpers/beta/json-schema";
import { jsonSchemaOutputFormat } from "@anthropic-ai/sdk/helpers/json-schema";
import { zodOutputFormat } from "@anthropic-ai/sdk/helpers/zod";
import { z } from "zod";

import { weatherTool } from "./harness.mjs";

// Every request the SDK makes, as (whether its body asked for a thread, the answer's status).
const sent = [];
let lastBody = {};
async function recordingFetch(url, init) {
  const response = await fetch(url, init);
  const body = typeof init?.body === "string" ? JSON.parse(init.body) : {};
  lastBody = body;
  sent.push({ thread: "thread" in body, status: response.status });
  return response;
}

const client = new Anthropic({
  fetch: recordingFetch,
  apiKey: process.env.GATEWAY_KEY,
  baseURL: process.env.GATEWAY_URL,
  maxRetries: 0,
  timeout: 20000,
});
const model = "qwq-32b";
const ask = [{ role: "user", content: "What is an edge gateway?" }];
const weather = {
  name: weatherTool.name,
  description: weatherTool.description,
  input_schema: weatherTool.parameters,
};

// A schema of the kind users write: nested objects in an array, an enum, an optional field, an integer
// bound. (No tuple: the SDK's own schema transform refuses `z.tuple` before anything is sent. The bound
// goes into a description, as the SDK sends it; zod still checks it when it parses the answer.)
const trip = z.object({
  title: z.string(),
  mode: z.enum(["train", "car"]),
  stops: z.array(z.object({ name: z.string(), nights: z.number().int().min(1) })),
  note: z.string().optional(),
});
const person = {
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer" }, tags: { type: "array", items: { type: "string" } } },
  required: ["name", "age", "tags"],
  additionalProperties: false,
};

// `messages.parse` (or `messages.stream`) with `output_config.format`: the SDK sends the schema and
// parses the answer's text into `parsed_output` (zod also validates it).
async function structured(format, stream) {
  const request = { model, max_tokens: 1024, messages: [{ role: "user", content: "Plan a trip" }], output_config: { format } };
  const message = stream ? await client.messages.stream(request).finalMessage() : await client.messages.parse(request);
  return {
    parsed: message.parsed_output,
    text: message.content.at(-1).text,
    stop: message.stop_reason,
    status: sent.at(-1).status,
    format: lastBody.output_config?.format, // what the SDK sent, for the test to check the answer against
  };
}

async function toolRoundTrip(stream) {
  const messages = [{ role: "user", content: "Weather in Paris?" }];
  const request = { model, max_tokens: 1024, messages, tools: [weather] };
  const first = stream
    ? await client.messages.stream(request).finalMessage()
    : await client.messages.create(request);
  const use = first.content.find((block) => block.type === "tool_use");
  messages.push({ role: "assistant", content: first.content });
  messages.push({
    role: "user",
    content: [{ type: "tool_result", tool_use_id: use.id, content: "21 C" }],
  });
  const final = stream
    ? await client.messages.stream({ ...request, messages }).finalMessage()
    : await client.messages.create({ ...request, messages });
  return { first_stop: first.stop_reason, tool: use.name, input: use.input, final: final.content[0].text };
}

const scenarios = {
  async plain() {
    const message = await client.messages.create({ model, max_tokens: 1024, messages: ask });
    return { text: message.content[0].text, stop: message.stop_reason, usage: message.usage };
  },
  async stream() {
    const stream = client.messages.stream({ model, max_tokens: 1024, messages: ask });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const message = await stream.finalMessage();
    return { text, final: message.content[0].text, stop: message.stop_reason };
  },
  structured_zod: () => structured(zodOutputFormat(trip), false),
  structured_zod_stream: () => structured(zodOutputFormat(trip), true),
  structured_json_schema: () => structured(jsonSchemaOutputFormat(person), false),
  tools: () => toolRoundTrip(false),
  streamed_tools: () => toolRoundTrip(true),
  async mid_stream_error() {
    const stream = client.messages.stream({
      model,
      max_tokens: 1024,
      messages: [{ role: "user", content: "hi [sim:disconnect]" }],
    });
    try {
      await stream.finalMessage();
      return { raised: false };
    } catch (error) {
      return { raised: true, name: error.constructor.name, message: String(error.message) };
    }
  },
  async tool_runner() {
    // Default settings: the runner first asks for a server-side thread, and must fall back without one.
    const seen = [];
    const tool = betaTool({
      name: weatherTool.name,
      description: weatherTool.description,
      inputSchema: weatherTool.parameters,
      run: async (input) => {
        seen.push(input);
        return "21 C";
      },
    });
    const runner = client.beta.messages.toolRunner({ model, max_tokens: 1024, messages: ask, tools: [tool] });
    const final = await runner.runUntilDone();
    return { runs: seen, final: final.content[0].text, stop: final.stop_reason, sent };
  },
};

try {
  const result = await scenarios[process.argv[2]]();
  console.log(JSON.stringify(result));
} catch (error) {
  console.log(JSON.stringify({ error: String(error), status: error.status ?? null }));
  process.exit(1);
}
