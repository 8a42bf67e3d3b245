import { test } from "node:test";
import assert from "node:assert/strict";
import type { KernelBridge, MimeBundle } from "../../lib/display";
import { fakeTime, recorder } from "./fixtures";
import {
  abortKernelSignal,
  bundleOf,
  DISPLAY,
  isRenderable,
  kernelAbortSignal,
  LiveDisplay,
  renderable,
  resetKernelAbortSignal,
  setKernelBridge,
  show,
  toBundle,
} from "../../lib/display";

test("renderable attaches a non-enumerable display method; toBundle falls back to inspect text", () => {
  const rec = renderable({ loss: 1.5 }, { text: () => "loss 1.5", html: "<b>1.5</b>" });
  assert.ok(isRenderable(rec));
  assert.deepEqual(Object.keys(rec), ["loss"]);
  assert.deepEqual(rec[DISPLAY](), { "text/plain": "loss 1.5", "text/html": "<b>1.5</b>" });
  assert.deepEqual(toBundle({ a: 1 }), { "text/plain": "{ a: 1 }" });
  assert.deepEqual(toBundle("plain"), { "text/plain": "plain" });
  const raw = { "text/plain": "x", "text/html": "<b>x</b>" };
  assert.equal(toBundle(raw), raw); // a ready-made bundle passes through as is
  assert.deepEqual(toBundle({ "text/plain": "x", loss: 1 }), { "text/plain": "{ 'text/plain': 'x', loss: 1 }" }); // not a bundle
  assert.deepEqual(bundleOf({ text: "t" }), { "text/plain": "t" });
  const bad = { [DISPLAY]: () => 42 };
  assert.throws(() => toBundle(bad), /must return a MIME bundle object with a "text\/plain" string/);
});

test("LiveDisplay in a kernel: first display_data, then update_display_data for the same id, ≤ 1 per interval, final state always shown", () => {
  const bridge = recorder();
  const clock = fakeTime();
  const live = new LiveDisplay({ bridge, minIntervalMs: 250, ...clock });
  let built = 0;
  // 100 updates, one every 10 ms (1 s in all): at ≤ 4 Hz at most 1 + 1000/250 = 5 refreshes go out.
  for (let i = 1; i <= 100; i++) {
    live.update(() => {
      built++;
      return { "text/plain": `step ${i}` } as MimeBundle;
    });
    clock.advance(10);
  }
  live.done();
  const texts = bridge.sent.map((s) => s.bundle["text/plain"]);
  assert.ok(bridge.sent.length <= 6, `${bridge.sent.length} refreshes`);
  assert.ok(bridge.sent.length >= 4, `${bridge.sent.length} refreshes`);
  assert.equal(texts[0], "step 1"); // the first update goes out at once
  assert.equal(texts[texts.length - 1], "step 100"); // and the final state always does
  assert.equal(built, bridge.sent.length); // thunks are only evaluated for refreshes that go out
  assert.equal(bridge.sent[0].update, false);
  assert.ok(bridge.sent.slice(1).every((s) => s.update === true));
  assert.equal(new Set(bridge.sent.map((s) => s.displayId)).size, 1);
  assert.throws(() => live.update("late"), /after done\(\)/);
});

test("LiveDisplay trailing refresh: an update inside the interval is sent when the interval ends", () => {
  const bridge = recorder();
  const clock = fakeTime();
  const live = new LiveDisplay({ bridge, minIntervalMs: 250, ...clock });
  live.update("a");
  clock.advance(100);
  live.update("b");
  assert.equal(bridge.sent.length, 1);
  clock.advance(149);
  assert.equal(bridge.sent.length, 1);
  clock.advance(1);
  assert.deepEqual(bridge.sent.map((s) => s.bundle["text/plain"]), ["a", "b"]);
  live.done(); // nothing new since "b": no extra refresh
  assert.equal(bridge.sent.length, 2);
});

test("LiveDisplay outside a kernel prints rate-limited text lines instead", () => {
  const clock = fakeTime();
  const lines: string[] = [];
  const live = new LiveDisplay({ bridge: null, consoleIntervalMs: 1000, write: (l) => void lines.push(l), ...clock });
  assert.equal(live.inKernel, false);
  for (let i = 1; i <= 30; i++) {
    live.update(`step ${i}`);
    clock.advance(100);
  }
  live.done("finished");
  // Update i arrives at t = (i-1)·100 ms. "step 1" goes out at once (t=0); later updates wait for the
  // interval to end, and the refresh at t = 1000, 2000, 3000 ms shows the newest state by then
  // (steps 10, 20, 30: update 11 arrives at t=1000 just after that timer fired). done() then adds the final line.
  assert.deepEqual(lines, ["step 1", "step 10", "step 20", "step 30", "finished"]);
});

test("show() prints text outside a kernel and sends display_data inside one", (t) => {
  const bridge = recorder();
  setKernelBridge(bridge);
  try {
    show(renderable({}, { text: "hello", html: "<i>hello</i>" }));
    assert.deepEqual(bridge.sent, [{ bundle: { "text/plain": "hello", "text/html": "<i>hello</i>" } }]);
  } finally {
    setKernelBridge(undefined);
  }
  const writes: string[] = [];
  t.mock.method(process.stdout, "write", (s: string) => void writes.push(s));
  show(renderable({}, { text: "hello" }));
  t.mock.restoreAll();
  assert.deepEqual(writes, ["hello\n"]);
});

test("kernel abort signal: abort reaches the signal a loop holds; reset gives a fresh one; 'claimed' reports use", () => {
  resetKernelAbortSignal();
  assert.equal(abortKernelSignal().claimed, false); // nobody asked for the signal in this "cell"
  resetKernelAbortSignal();
  const signal = kernelAbortSignal();
  assert.equal(signal.aborted, false);
  const { claimed } = abortKernelSignal();
  assert.equal(claimed, true);
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as Error).name, "AbortError");
  resetKernelAbortSignal();
  assert.equal(kernelAbortSignal().aborted, false);
  assert.equal(signal.aborted, true); // the old signal stays aborted: a straggling loop still stops
  resetKernelAbortSignal();
});
