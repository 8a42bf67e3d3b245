import { test } from "node:test";
import assert from "node:assert/strict";
import { diagnosticsContent, errorContent, TSLAB_INTERRUPT_MESSAGE } from "../../kernel/errors";

test("an Error becomes ename/evalue/traceback with a coloured header and only useful frames", () => {
  const e = new RangeError("step 3 went wrong");
  e.stack = [
    "RangeError: step 3 went wrong",
    "    at fail (evalmachine.<anonymous>:2:9)",
    "    at Trainer.step (/lab/dist/lib/train/trainer.js:10:5)",
    "    at Object.execute (/lab/node_modules/tslab/dist/executor.js:152:37)",
    "    at Script.runInThisContext (node:vm:135:14)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
  ].join("\n");
  const c = errorContent(e, [/\/node_modules\/tslab\/dist/]);
  assert.equal(c.ename, "RangeError");
  assert.equal(c.evalue, "step 3 went wrong");
  assert.deepEqual(c.traceback, [
    "\x1b[0;31mRangeError\x1b[0m: step 3 went wrong",
    "    at fail (<cell>)", // positions in tslab's transpiled JS would mislead: dropped
    "    at Trainer.step (/lab/dist/lib/train/trainer.js:10:5)",
  ]);
});

test("error causes are appended; non-Error throws and tslab's interrupt get clear content", () => {
  const inner = new Error("ENOENT: ckpt.safetensors");
  inner.stack = "Error: ENOENT: ckpt.safetensors\n    at open (/lab/dist/lib/io/safetensors.js:3:1)";
  const outer = new Error("could not load checkpoint", { cause: inner });
  outer.stack = "Error: could not load checkpoint\n    at load (evalmachine.<anonymous>:1:1)";
  const c = errorContent(outer);
  assert.deepEqual(c.traceback.slice(2), ["Caused by: Error: ENOENT: ckpt.safetensors", "    at open (/lab/dist/lib/io/safetensors.js:3:1)"]);

  const s = errorContent("just a string");
  assert.equal(s.ename, "Error");
  assert.equal(s.evalue, "'just a string'");
  assert.match(s.traceback[1], /no stack trace/);

  const i = errorContent(new Error(TSLAB_INTERRUPT_MESSAGE));
  assert.equal(i.ename, "Interrupted");
  assert.match(i.evalue, /may still be running/);
});

test("TypeScript diagnostics become a TSError listing every diagnostic", () => {
  const one = diagnosticsContent(["1:7 - Type 'string' is not assignable to type 'number'."]);
  assert.equal(one.ename, "TSError");
  assert.equal(one.evalue, "1:7 - Type 'string' is not assignable to type 'number'.");
  const three = diagnosticsContent(["1:1 - a", "2:1 - b", "3:1 - c"]);
  assert.equal(three.evalue, "1:1 - a (and 2 more errors)");
  assert.deepEqual(three.traceback.slice(1), ["1:1 - a", "2:1 - b", "3:1 - c"]);
  assert.match(three.traceback[0], /did not compile \(3 errors\); nothing was run/);
});
