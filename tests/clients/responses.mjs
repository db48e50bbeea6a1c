// The official `openai` Node SDK's Responses API against a gateway; driven by tests/e2e/test_responses_clients.py.
// GATEWAY_URL and GATEWAY_KEY come from the environment; one JSON object of observations goes to stdout
// (the test asserts on it), and any failure exits non-zero with its message on stderr.
import OpenAI from "openai";
import { zodTextFormat } from "openai/helpers/zod";
import { z } from "zod";

import { weatherTool } from "./harness.mjs";

const client = new OpenAI({
  apiKey: process.env.GATEWAY_KEY,
  baseURL: `${process.env.GATEWAY_URL}/v1`,
  maxRetries: 0,
  timeout: 10000,
});
const weather = { type: "function", ...weatherTool, strict: true };

const out = {};

const plain = await client.responses.create({
  model: "qwq-32b",
  input: "What is an edge gateway?",
  reasoning: { summary: "auto" },
});
out.plain = {
  status: plain.status,
  id: plain.id,
  text: plain.output_text,
  reasoning: plain.output[0].summary[0].text,
  reasoningTokens: plain.usage.output_tokens_details.reasoning_tokens,
};

const stream = client.responses.stream({ model: "qwq-32b", input: "Weather in Paris?", tools: [weather] });
const kinds = [];
let argumentDeltas = "";
for await (const event of stream) {
  kinds.push(event.type);
  if (event.type === "response.function_call_arguments.delta") argumentDeltas += event.delta;
}
const first = await stream.finalResponse();
const call = first.output.find((item) => item.type === "function_call");
out.stream = { first: kinds[0], last: kinds.at(-1), argumentDeltas, call: { name: call.name, arguments: call.arguments } };

const second = await client.responses.create({
  model: "qwq-32b",
  tools: [weather],
  input: [
    { role: "user", content: "Weather in Paris?" },
    ...first.output,
    { type: "function_call_output", call_id: call.call_id, output: "18 C, clear" },
  ],
});
out.toolResult = second.output_text;

const Trip = z.object({ city: z.string(), days: z.number().int() });
const parsed = await client.responses.parse({
  model: "qwq-32b",
  input: "Plan a trip",
  text: { format: zodTextFormat(Trip, "trip") },
});
out.parsed = parsed.output_parsed;

try {
  await client.responses.create({ model: "qwq-32b", input: "hi", previous_response_id: "resp_1" });
  out.previous = "accepted";
} catch (error) {
  out.previous = { status: error.status, param: error.param };
}

process.stdout.write(JSON.stringify(out));
