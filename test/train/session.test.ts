import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { MODEL_PRESETS, ModelConfig } from "../../lib/model/config";
import { disposeParams, initParams } from "../../lib/model/model";
import { paramEntries } from "../../lib/model/params";
import { Rng } from "../../lib/model/rng";
import { randomWindows } from "../../lib/train/batches";
import { TRAIN_PRESETS, TrainConfig } from "../../lib/train/config";
import { lrAt } from "../../lib/train/schedule";
import { resolveSchedule, trainerFromCheckpoint, TrainingSession } from "../../lib/train/session";

before(async () => {
  await initBackend("cpu");
});

const MICRO: ModelConfig = { ...MODEL_PRESETS.tiny, vocabSize: 32, dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 2, dFf: 16, maxSeqLen: 16, experts: ["public"], topK: 1 };
// The config's own schedule (2 000 steps, warm-up 100) is what every call used to follow; the session must ignore it.
const TC: TrainConfig = { ...TRAIN_PRESETS.tiny, batchSize: 2, seqLen: 8, steps: 2000, warmupSteps: 100, lr: 1e-2, minLrRatio: 0.1 };

function stream(n: number): Int32Array {
  const rng = new Rng(7);
  return Int32Array.from({ length: n }, () => rng.int(MICRO.vocabSize));
}

function session(seed = 0) {
  const params = initParams(MICRO, seed);
  const s = new TrainingSession("micro", async () => ({ params, cfg: MICRO, tc: TC, batches: randomWindows(stream(500), 2, 8, 3), routingStats: false }));
  return { params, s };
}

test("a 100-step train call warms up over 10 steps and ends at the decayed learning rate", async () => {
  const { params, s } = session();
  try {
    const r = (await s.train({ steps: 100 })).result;
    const lrs = r.lrs;
    assert.equal(lrs.length, 100);
    assert.ok(Math.abs(lrs[0] - 1e-3) < 1e-15); // warm-up 10 steps: first update lr·1/10
    assert.ok(Math.abs(lrs[9] - 1e-2) < 1e-15); // peak at the end of the warm-up
    // Last update: cosine position 89/90 of the way down from 1e-2 to the floor 1e-3 (hand-computed from the formula).
    const want = 1e-3 + 0.9e-2 * 0.5 * (1 + Math.cos((Math.PI * 89) / 90));
    assert.ok(Math.abs(lrs[99] - want) < 1e-15, `${lrs[99]} vs ${want}`);
    assert.ok(lrs[99] < 1.01e-3, "ends within 1 % of the floor, not mid-schedule");
    // The preset's 2 000-step schedule would still be warming up at step 100:
    assert.ok(lrAt(99, TC) === 1e-2);
  } finally {
    s.dispose();
    disposeParams(params);
  }
});

test("a second call starts a new schedule unless it asks to continue", async () => {
  const a = session(), b = session(), c = session();
  try {
    // Two fresh calls: each warms up again.
    await a.s.train({ steps: 20 });
    const again = (await a.s.train({ steps: 20 })).result.lrs;
    assert.ok(Math.abs(again[0] - 5e-3) < 1e-15, "fresh 20-step schedule: warm-up 2 steps, first lr·1/2");
    // One 40-step schedule spread over two calls equals one call of 40, bit for bit.
    await b.s.train({ steps: 20, schedule: { steps: 40 } });
    const cont = (await b.s.train({ steps: 20, schedule: "continue" })).result.lrs;
    const whole = (await c.s.train({ steps: 40 })).result.lrs;
    assert.deepEqual(cont, whole.slice(20));
    const wb = paramEntries(b.params).map((e) => e.tensor.dataSync().join());
    const wc = paramEntries(c.params).map((e) => e.tensor.dataSync().join());
    assert.deepEqual(wb, wc);
  } finally {
    for (const x of [a, b, c]) {
      x.s.dispose();
      disposeParams(x.params);
    }
  }
});

test("schedule requests are checked with clear errors; nothing to continue at the start", async () => {
  assert.throws(() => resolveSchedule("continue", 10, 0, undefined, "micro"), /nothing trained yet/);
  assert.throws(() => resolveSchedule({ steps: 0 }, 10, 0, undefined, "micro"), /positive integer/);
  assert.throws(() => resolveSchedule({ warmupFraction: 1 }, 10, 0, undefined, "micro"), /warmupFraction/);
  assert.throws(() => resolveSchedule({ steps: 5, warmupSteps: 6 }, 10, 0, undefined, "micro"), /warmupSteps/);
  assert.deepEqual(resolveSchedule(undefined, 25, 7, undefined, "micro"), { start: 7, steps: 25, warmupSteps: 3 });
  const { params, s } = session();
  try {
    await assert.rejects(s.train({ steps: 3, schedule: "continue" }), /nothing trained yet/);
    const before = tf.memory().numTensors;
    await s.train({ steps: 3 });
    await s.train({ steps: 3, schedule: "continue" });
    assert.equal(tf.memory().numTensors, before, "tensor count flat across train calls");
  } finally {
    s.dispose();
    disposeParams(params);
  }
});

test("trainerFromCheckpoint hands back exactly the moments it needs and frees every other optimizer tensor", () => {
  const make = () => ({
    "w.m": tf.zeros([2]),
    "w.v": tf.zeros([2]),
    "calibration/w.m": tf.zeros([2]), // a companion's state nobody asked for
    "stray.m": tf.zeros([3]),
  });
  const meta = { trainer: { tokens: 8, batches: { kind: "count", drawn: 1 }, trainable: [{ name: "w", trainableCount: 2 }], trainConfig: TRAIN_PRESETS.tiny } };
  const before = tf.memory().numTensors;
  const r = trainerFromCheckpoint({ optimizer: { step: 1, tensors: make() }, sidecar: { metadata: meta } })!;
  assert.equal(tf.memory().numTensors, before + 2, "only w.m and w.v survive (before the fix the two extras leaked)");
  r.state.moments.w.m.dispose();
  r.state.moments.w.v.dispose();
  assert.equal(tf.memory().numTensors, before);
  // A checkpoint missing a moment: a clear error, and nothing left behind.
  const broken = make();
  broken["w.v"].dispose();
  delete (broken as Record<string, tf.Tensor>)["w.v"];
  assert.throws(() => trainerFromCheckpoint({ optimizer: { step: 1, tensors: broken }, sidecar: { metadata: meta } }), /no moments for w; it cannot resume training/);
  assert.equal(tf.memory().numTensors, before);
});
