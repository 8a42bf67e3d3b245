/**
 * The package in the Node REPL: a typo after the wasm backend has started must not end Node (the
 * Emscripten glue's rethrowing process handlers are removed), and what the API returns prints as
 * its one-line or table summary, not as a dump of class internals.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { inspect } from "node:util";
import { flex, inspect as views, baselines } from "../lib";

const PACKAGE = path.resolve(__dirname, "../lib/index.js");

/** A `node -i` session fed one line at a time, each sent once the output so far matches `waitFor`. */
function repl(steps: Array<{ line: string; waitFor: RegExp }>): Promise<{ code: number | null; output: string; reached: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-i"], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NODE_NO_READLINE: "1" } });
    let output = "";
    let next = 0; // index of the step whose output we wait for
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      while (next < steps.length && steps[next].waitFor.test(output)) {
        next++;
        if (next < steps.length) child.stdin.write(`${steps[next].line}\n`);
        else child.stdin.end(".exit\n");
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, output, reached: next });
    });
    child.stdin.write(`${steps[0].line}\n`);
  });
}

test("after the wasm backend starts, a typo in the Node REPL is reported and the session goes on", async () => {
  const r = await repl([
    { line: `const lab = require(${JSON.stringify(PACKAGE)}); lab.initBackend("wasm").then((b) => console.log("BACKEND", b.name, process.listenerCount("uncaughtException")))`, waitFor: /BACKEND wasm/ },
    { line: "fooBarTypo", waitFor: /ReferenceError: fooBarTypo is not defined/ },
    { line: "1 + 1", waitFor: /^(?:> )*2$/m },
    { line: "Promise.reject(new Error('nobody catches me')); 40 + 2", waitFor: /^(?:> )*42$/m },
  ]);
  assert.equal(r.reached, 4, `the REPL stopped answering after step ${r.reached}:\n${r.output}`);
  assert.equal(r.code, 0, r.output);
  assert.doesNotMatch(r.output, /tf-backend-wasm\.node\.js:\d+\s+throw ex/, "the glue's handler rethrew");
});

test("util.inspect of what the API returns is its summary: handles, training, evaluation, routing, baselines", async () => {
  const lab = await flex.lab({ preset: "tiny", seed: 0, backend: "cpu" });
  const pub = await lab.publicModel({ from: "scratch" });
  await pub.train({ steps: 1 });
  const math = lab.owner("math", { from: pub }); // an owner starts from the public model as it is now
  await math.train({ steps: 1 });
  const model = await flex.merge(pub, [math], { k: 1 });
  try {
    const records: Array<[string, unknown]> = [
      ["lab", lab],
      ["public model", pub],
      ["owner", math],
      ["merged model", model],
      ["a view", model.without("math")],
      ["training record", await math.train({ steps: 1 })],
      ["invariants", math.invariants()],
      ["evaluation", await model.evaluate({ maxWindows: 1 })],
      ["manifest", model.manifest()],
      ["routing report", await views.routing(model, { maxWindows: 1 })],
      ["domain shares", (await views.routing(model, { maxWindows: 1 })).byDomain()],
      ["BTM", baselines.btm([pub.model(), math.model().named("math owner")], { topK: 1 })],
      ["corpus", lab.data.corpus],
      ["corpus counts", lab.data.corpus.describe()],
    ];
    for (const [what, x] of records) {
      const text = inspect(x);
      assert.equal(text, String(x), `${what}: util.inspect is not its summary`);
      assert.ok(text.split("\n").length <= 16, `${what}: ${text.split("\n").length} lines:\n${text}`);
      assert.doesNotMatch(text, /^\w+ \{$/m, `${what}: a dump of fields`);
    }
    assert.match(inspect(model), /^FlexModel "flexolmo": experts public, math \(of 2\), top-1, bias keep, opt-out exact$/);
    assert.match(inspect(model.without("math")), /experts public \(of 2\)/);
    assert.match(inspect(pub), /^PublicModel: from scratch, 1 step; d_model \d+, \d+ layers$/);
    assert.match(inspect(math), /^OwnerExpert "math" \(math\): 2 steps, init \w+, bias -3/);
    assert.match(inspect({ model }), /model: FlexModel "flexolmo"/, "nested in an object too");
  } finally {
    model.dispose();
    math.dispose();
    pub.dispose();
  }
});
