// The Vercel AI SDK (`ai` + `@ai-sdk/openai-compatible`, zod 4 schemas) against a live gateway.
// Usage: node vercel_ai.mjs BASE_URL API_KEY SCENARIO...   (BASE_URL ends in /v1)
// Prints one JSON object: {scenario: {ok: true, ...what it saw} | {ok: false, error: "..."}}.
// The assertions live in pytest (tests/clients/test_node_clients.py); this only drives the client.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, Output, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

import { runScenarios } from "./harness.mjs";

const [baseURL, apiKey, ...scenarios] = process.argv.slice(2);
const provider = createOpenAICompatible({
  name: "gateway",
  baseURL,
  apiKey,
  includeUsage: true,
  supportsStructuredOutputs: true, // send the zod schema as response_format json_schema
});
const model = provider("qwq-32b");
const ask = "What is an edge gateway?";

const weather = tool({
  description: "Current weather in a city",
  inputSchema: z.object({ city: z.string(), unit: z.enum(["c", "f"]).optional() }),
  execute: async ({ city }) => ({ city, temperature: 21 }),
});

// A schema of the kind zod users write: nested objects, a tuple, an enum, a format, an optional field.
const trip = z.object({
  title: z.string(),
  when: z.iso.datetime(),
  contact: z.email(),
  stops: z.array(z.object({ name: z.string(), nights: z.number().int().min(1) })).min(1),
  position: z.tuple([z.number(), z.number()]),
  mode: z.enum(["train", "car"]),
  note: z.string().optional(),
});

const run = {
  async text() {
    const r = await generateText({ model, prompt: ask, maxRetries: 0 });
    return { text: r.text, reasoning: r.reasoningText ?? "", finish: r.finishReason, usage: r.usage };
  },
  async stream() {
    const r = streamText({ model, prompt: ask, maxRetries: 0 });
    let text = "";
    const kinds = new Set();
    for await (const part of r.fullStream) {
      kinds.add(part.type);
      if (part.type === "text-delta") text += part.text;
      if (part.type === "error") throw part.error;
    }
    return { text, kinds: [...kinds], finish: await r.finishReason, usage: await r.usage };
  },
  async tools() {
    const r = await generateText({
      model,
      prompt: "Weather in Paris?",
      tools: { weather },
      stopWhen: stepCountIs(3),
      maxRetries: 0,
    });
    const calls = r.steps.flatMap((s) => s.toolCalls.map((c) => ({ name: c.toolName, input: c.input })));
    const results = r.steps.flatMap((s) => s.toolResults.map((t) => t.output));
    return { steps: r.steps.length, calls, results, text: r.text, finish: r.finishReason };
  },
  async tools_stream() {
    const r = streamText({
      model,
      prompt: "Weather in Paris?",
      tools: { weather },
      stopWhen: stepCountIs(3),
      maxRetries: 0,
    });
    const calls = [];
    let text = "";
    for await (const part of r.fullStream) {
      if (part.type === "tool-call") calls.push({ name: part.toolName, input: part.input });
      if (part.type === "text-delta") text += part.text;
      if (part.type === "error") throw part.error;
    }
    return { steps: (await r.steps).length, calls, text, finish: await r.finishReason };
  },
  async object() {
    const r = await generateText({
      model,
      prompt: "Plan a trip",
      output: Output.object({ schema: trip }),
      maxRetries: 0,
    });
    return { object: r.output };
  },
  async object_stream() {
    const r = streamText({
      model,
      prompt: "Plan a trip",
      output: Output.object({ schema: trip }),
      maxRetries: 0,
    });
    for await (const part of r.fullStream) {
      if (part.type === "error") throw part.error;
    }
    return { object: await r.output };
  },
};

await runScenarios(run, scenarios);
