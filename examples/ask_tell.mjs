// Tunehub from Node.js (18 or newer), with its built-in fetch and no dependencies:
// create a study, then ask, report, tell in a loop, and read the best trial.
// Usage: TUNEHUB_URL=http://127.0.0.1:8000 node examples/ask_tell.mjs [trials]

const base = `${process.env.TUNEHUB_URL ?? "http://127.0.0.1:8000"}/api/v1`;
const headers = { "Content-Type": "application/json" };
if (process.env.TUNEHUB_API_KEY) headers.Authorization = `Bearer ${process.env.TUNEHUB_API_KEY}`;

// One API call; errors carry the server's problem detail (which names the bad field).
async function call(method, path, body) {
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 503 && attempt < 5) {
      const wait = Number(response.headers.get("retry-after") ?? attempt);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      continue;
    }
    const answer = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${answer.detail ?? ""}`);
    return answer;
  }
}

// What a training run would do: a loss that falls with each epoch, best near lr=1e-2, 3 layers.
function lossAt(params, epoch) {
  const lr = Math.log10(params.lr) + 2;
  return lr * lr + 0.1 * (params.layers - 3) ** 2 + (params.optimizer === "sgd" ? 0.2 : 0) + 1 / epoch;
}

const trials = Number(process.argv[2] ?? 12);
const study = await call("POST", "/studies", {
  name: "node-example",
  space: {
    lr: { type: "float", low: 1e-4, high: 1, log: true },
    layers: { type: "int", low: 1, high: 6 },
    optimizer: { type: "categorical", choices: ["adam", "sgd"] },
  },
  objectives: [{ name: "loss", direction: "minimize" }],
  policy: { name: "random", options: {} },
  seed: 0,
});
console.log(`study ${study.id} (${study.name})`);

for (let i = 0; i < trials; i += 1) {
  // A request id makes the ask safe to retry: repeating it returns the same trial.
  const [trial] = (await call("POST", `/studies/${study.id}/ask`, { count: 1, worker: "node", request_id: `node-${process.pid}-${i}` })).trials;
  let loss = Infinity;
  let stopped = false;
  for (let epoch = 1; epoch <= 3; epoch += 1) {
    loss = lossAt(trial.params, epoch);
    const { decision } = await call("POST", `/trials/${trial.id}/reports`, { step: epoch, values: { loss } });
    if (decision === "stop") {
      stopped = true;
      break;
    }
  }
  const told = await call("POST", `/trials/${trial.id}/tell`, stopped ? { state: "pruned" } : { values: { loss } });
  console.log(`trial ${trial.number} ${JSON.stringify(trial.params)} -> ${told.state} ${loss.toFixed(4)}`);
}

const { trials: best } = await call("GET", `/studies/${study.id}/best`);
console.log(`best: trial ${best[0].number} loss ${best[0].values.loss.toFixed(4)} ${JSON.stringify(best[0].params)}`);
