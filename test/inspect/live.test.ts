/**
 * The live training view with a fake kernel bridge and a manual clock: one output updated in place,
 * rate-limited, ending on the final state; the routing panel picks the informative quantity.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DISPLAY, PLOTLY_MIME } from "../../lib/display";
import { TrainRecord } from "../../lib/flex/records";
import { EvalResult } from "../../lib/flex/results";
import { formatDuration, liveTraining } from "../../lib/inspect/live";
import type { StepProgress } from "../../lib/train/trainer";
import { fakeTime, recorder } from "../display/fixtures";

/** A progress event; routing [layer][expert]. */
function step(i: number, share?: number[][], meanProb?: number[][]): StepProgress {
  return { step: i, loss: 5 - i * 0.1, ce: 5 - i * 0.1, zLoss: 0, lbLoss: 0, marginLoss: 0, lr: 1e-3, gradNorm: 1, tokens: 100, tokensPerSec: 1000, seconds: 0.1, routing: share ? { share, meanProb: meanProb! } : undefined };
}

function record(steps: number, aborted = false): TrainRecord {
  const losses = Array.from({ length: steps }, (_, i) => 5 - i * 0.1);
  return TrainRecord.fromSteps("math owner", { steps, step: steps, losses, lrs: losses.map(() => 1e-3), tokens: 100 * steps, seconds: 0.1 * steps, tokensPerSec: 1000, aborted });
}

test("one display, updated in place at ≤ 1 Hz, ending on the final state", () => {
  const bridge = recorder();
  const c = fakeTime();
  const view = liveTraining("math owner", { totalSteps: 40, experts: ["public", "math"], display: { bridge, now: c.now, setTimer: c.setTimer, clearTimer: c.clearTimer } });
  for (let i = 1; i <= 40; i++) {
    view.onProgress(step(i, [[0.5, 0.5], [0.5, 0.5]], [[0.7, 0.3], [0.6, 0.4]]));
    c.advance(100); // 10 steps per second: faster than the display refreshes
  }
  const rec = record(40);
  view.done(rec);
  const ids = new Set(bridge.sent.map((s) => s.displayId));
  assert.equal(ids.size, 1, "a single output");
  assert.equal(bridge.sent[0].update, false);
  assert.ok(bridge.sent.slice(1).every((s) => s.update === true), "then only updates");
  // 40 steps over 4 s at ≤ one refresh per second: the first, ≤ 4 timed ones, and the final one.
  assert.ok(bridge.sent.length >= 3 && bridge.sent.length <= 6, `sends: ${bridge.sent.length}`);
  const last = bridge.sent[bridge.sent.length - 1].bundle;
  assert.match(last["text/plain"], /^math owner: 40 steps \(total 40\), loss 5\.000 → /);
  assert.match(String(last["text/html"]), /done: 40\/40 steps/);
  assert.equal(last[PLOTLY_MIME], undefined, "HTML only: a plotly payload would hide the progress bar");
  assert.equal((String(last["text/html"]).match(/class="flexolmo-figure"/g) ?? []).length, 2, "loss and routing charts");
  assert.throws(() => view.onProgress(step(41)), /after done/);
});

test("text line while running: progress, loss, lr, tokens/s, ETA and the owner's router probability", () => {
  const view = liveTraining("math owner", { totalSteps: 10, experts: ["public", "math"], display: { bridge: recorder() } });
  for (let i = 1; i <= 4; i++) view.onProgress(step(i, [[0.5, 0.5], [0.5, 0.5]], [[0.7, 0.3], [0.6, 0.4]]));
  // 6 steps left at 0.1 s each.
  assert.ok(Math.abs(view.eta - 0.6) < 1e-12, String(view.eta));
  assert.equal(
    view.toString(),
    "math owner: step 4/10 (40%) · loss 4.600 · lr 0.001 · 1,000 tok/s · ETA 1s · L0 p(math) 0.3 L1 p(math) 0.4",
  );
});

test("routing panel: soft 2-expert training shows p(owner) per layer; top-k routing shows last-layer slot shares", () => {
  const soft = liveTraining("owner", { totalSteps: 2, experts: ["public", "math"], display: { bridge: recorder() } });
  soft.onProgress(step(1, [[0.5, 0.5], [0.5, 0.5]], [[0.7, 0.3], [0.6, 0.4]]));
  const s = soft.routingSeries()!;
  assert.deepEqual(s.series.map((x) => x.name), ["L0 p(math)", "L1 p(math)"]);
  assert.deepEqual(s.series.map((x) => x.values), [[0.3], [0.4]]);
  assert.equal(s.ref?.value, 0.5);

  const topk = liveTraining("router tuning", { totalSteps: 2, experts: ["public", "math", "code"], display: { bridge: recorder() } });
  topk.onProgress(step(1, [[0.5, 0.25, 0.25], [0.4, 0.4, 0.2]], [[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]]));
  const t = topk.routingSeries()!;
  assert.deepEqual(t.series.map((x) => x.name), ["public", "math", "code"]);
  assert.deepEqual(t.series.map((x) => x.values), [[0.4], [0.4], [0.2]]); // the last layer's shares
  assert.match(t.yTitle, /share of top-k slots \(layer 1\)/);

  const dense = liveTraining("public model", { totalSteps: 2, display: { bridge: recorder() } });
  dense.onProgress(step(1, [[1], [1]], [[1], [1]]));
  assert.equal(dense.routingSeries(), null, "one expert: nothing to route");
});

test("long runs are drawn from at most ~200 points per line, always ending on the last step", () => {
  const view = liveTraining("public model", { totalSteps: 1000, display: { bridge: recorder() } });
  for (let i = 1; i <= 1000; i++) view.onProgress(step(i, [[0.5, 0.5]], [[0.6, 0.4]]));
  const { loss, routing } = view.charts();
  const x = loss.data[0].x as number[];
  assert.ok(x.length <= 201, String(x.length));
  assert.equal(x[0], 1);
  assert.equal(x[x.length - 1], 1000);
  assert.deepEqual(routing!.data[0].x, x);
  assert.equal(view.state.loss.length, 1000, "the state keeps every step");
});

test("evaluation losses join the loss chart as per-domain series", () => {
  const view = liveTraining("public model", { totalSteps: 4, display: { bridge: recorder() } });
  view.onProgress(step(1));
  view.onProgress(step(2));
  view.evaluation(2, new EvalResult({ model: "public", experts: ["public"], optOut: "exact", split: "valid", seqLen: 16, rows: [{ domain: "math", tokens: 10, loss: 4.5, ppl: Math.exp(4.5) }], seconds: 0 }));
  const { loss } = view.charts();
  assert.deepEqual(loss.data.map((t) => (t.type === "heatmap" ? "heatmap" : t.name)), ["train loss", "math (eval)"]);
  assert.deepEqual(loss.data[1].y, [4.5]);
});

test("an interrupted run ends as 'stopped early'; outside a kernel the view prints lines", () => {
  const lines: string[] = [];
  const view = liveTraining("public model", { totalSteps: 10, display: { bridge: null, write: (l) => lines.push(l), consoleIntervalMs: 0 } });
  view.onProgress(step(1));
  view.onProgress(step(2));
  view.done(record(2, true));
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^public model: step 1\/10 \(10%\)/);
  assert.match(lines[2], /stopped early/);
  assert.match(String(view[DISPLAY]()["text/html"]), /stopped early: 2\/10 steps/);
});

test("done() without a record summarises every step the view saw (several train calls)", () => {
  const view = liveTraining("public model", { totalSteps: 3, display: { bridge: recorder() } });
  for (let i = 1; i <= 3; i++) view.onProgress(step(i));
  view.done();
  // Losses 4.9 → 4.7 (step(i) = 5 − 0.1·i); 3 steps × 100 tokens × 0.1 s.
  assert.equal(view.toString(), "public model: 3 steps (to step 3), loss 4.900 → 4.700, 300 tokens in 0.3 s of step time");
});

test("bad input and durations", () => {
  assert.throws(() => liveTraining("x", { totalSteps: 0 }), /totalSteps: N/);
  assert.equal(formatDuration(NaN), "–");
  assert.equal(formatDuration(42.4), "42s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3720), "1h02m");
});
