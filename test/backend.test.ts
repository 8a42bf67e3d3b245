import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "../lib/tf";
import { initBackend, backendReport, BACKEND_NAMES } from "../lib/backend";

test("an unknown backend name is refused with the list of valid names", async () => {
  await assert.rejects(() => initBackend("tpu"), (e: Error) => {
    assert.match(e.message, /Unknown backend "tpu"/);
    for (const n of BACKEND_NAMES) assert.ok(e.message.includes(n), `message lists ${n}`);
    return true;
  });
});

test("FLEXOLMO_BACKEND is validated too", async () => {
  const saved = process.env.FLEXOLMO_BACKEND;
  process.env.FLEXOLMO_BACKEND = "nonsense";
  try {
    await assert.rejects(() => initBackend(), /from FLEXOLMO_BACKEND/);
  } finally {
    if (saved === undefined) delete process.env.FLEXOLMO_BACKEND;
    else process.env.FLEXOLMO_BACKEND = saved;
  }
});

test("forcing cpu gives the cpu backend, and ops run on it", async () => {
  const r = await initBackend("cpu");
  assert.equal(r.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal(r.forced, true);
  assert.deepEqual(r.attempts.map((a) => a.name), ["cpu"]);
  assert.equal(backendReport(), r);
  const y = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).arraySync());
  assert.deepEqual(y, [2, 3]);
});

test("forcing wasm switches backends; ops give the same numbers", async () => {
  const r = await initBackend("wasm");
  assert.equal(r.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(typeof r.flags.simd, "boolean");
  const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).arraySync());
  assert.deepEqual(y, [[11]]);
});

test("automatic selection records why each skipped backend failed", async () => {
  const saved = process.env.FLEXOLMO_BACKEND;
  delete process.env.FLEXOLMO_BACKEND;
  try {
    // Reset to a non-default so that automatic selection runs again from the top.
    await initBackend("cpu");
    const { selectAutomatically } = await import("../lib/backend");
    const r = await selectAutomatically();
    const idx = BACKEND_NAMES.indexOf(r.name);
    assert.ok(idx >= 0);
    // Everything before the chosen backend was tried and failed with a recorded reason.
    for (const a of r.attempts.slice(0, -1)) {
      assert.equal(a.ok, false);
      assert.ok(a.reason && a.reason.length > 0, `${a.name} has a reason`);
    }
    assert.equal(r.attempts[r.attempts.length - 1].ok, true);
    assert.deepEqual(r.attempts.map((a) => a.name), BACKEND_NAMES.slice(0, idx + 1));
    assert.ok(r.summary.startsWith(r.name));
  } finally {
    if (saved !== undefined) process.env.FLEXOLMO_BACKEND = saved;
  }
});
