// What the client scripts in this folder share: the tool every tool round trip offers, and the way a
// script runs its scenarios and reports what each one saw (the assertions live in the pytest files).

// `get_weather`, in the neutral parts each client's own tool shape is made of. The simulator calls it
// with arguments made from this schema ({"city": "example"}).
export const weatherTool = {
  name: "get_weather",
  description: "Current weather in a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
    additionalProperties: false,
  },
};

// Runs `run[name]()` for each of `names`, one after the other, and prints one JSON object:
// {name: {ok: true, ...what it returned} | {ok: false, error, status}}. A failing scenario is reported,
// not thrown, so the others still run and the test can assert on the error itself.
export async function runScenarios(run, names) {
  const out = {};
  for (const name of names) {
    try {
      out[name] = { ok: true, ...(await run[name]()) };
    } catch (error) {
      out[name] = { ok: false, error: String(error?.message ?? error).slice(0, 500), status: error?.status ?? null };
    }
  }
  process.stdout.write(JSON.stringify(out));
}
