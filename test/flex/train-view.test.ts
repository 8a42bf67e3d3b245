/**
 * What `train()` shows by default: the live view inside the notebook kernel (simulated here with a
 * recording kernel bridge, as the kernel preload installs one), a progress line on a terminal's
 * stderr, nothing on a pipe; `live: false`, or the caller's own `onProgress`, turn it off.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setKernelBridge } from "../../lib/display";
import { flex, type Lab, type PublicModel } from "../../lib/flex";
import { trainView } from "../../lib/flex/train-view";
import type { StepProgress } from "../../lib/train/trainer";
import { recorder } from "../display/fixtures";

let lab: Lab;
let pub: PublicModel;

before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 7, backend: "cpu", train: { batchSize: 2 } });
  pub = await lab.publicModel({ from: "scratch" });
});
after(() => {
  pub.dispose();
  setKernelBridge(undefined);
});

test("in the kernel, train() without options shows one live view; live: false and onProgress show none", async () => {
  const bridge = recorder();
  setKernelBridge(bridge);
  try {
    const rec = await pub.train({ steps: 2 });
    assert.equal(rec.steps, 2);
    assert.ok(bridge.sent.length >= 1, "a live view was displayed");
    assert.equal(new Set(bridge.sent.map((s) => s.displayId)).size, 1, "one output, updated in place");
    const last = bridge.sent[bridge.sent.length - 1].bundle;
    assert.match(String(last["text/plain"]), /public model/);
    assert.match(String(last["text/html"]), /done: 2\/2 steps/);

    bridge.sent.length = 0;
    await pub.train({ steps: 1, live: false });
    assert.equal(bridge.sent.length, 0, "live: false shows nothing");

    let seen = 0;
    await pub.train({ steps: 1, onProgress: () => seen++ });
    assert.equal(seen, 1);
    assert.equal(bridge.sent.length, 0, "a caller with its own onProgress is not shown a second view");

    await pub.train({ steps: 1, onProgress: () => seen++, live: true });
    assert.equal(seen, 2, "live: true keeps the caller's onProgress");
    assert.ok(bridge.sent.length >= 1, "live: true shows the view beside the caller's onProgress");
  } finally {
    setKernelBridge(undefined);
  }
});

test("train() refuses a misspelt option and a non-boolean live", async () => {
  await assert.rejects(() => pub.train({ steps: 1, lve: false } as never), /unknown option "lve" \(did you mean live\?\)/);
  await assert.rejects(() => pub.train({ steps: 1, live: "no" } as never), /live must be true or false/);
});

function step(i: number): StepProgress {
  return { step: i, loss: 4 - i * 0.1, ce: 4, zLoss: 0, lbLoss: 0, marginLoss: 0, lr: 1e-3, gradNorm: 1, tokens: 64, tokensPerSec: 1234, seconds: 0.05 };
}

test("outside the kernel: a progress line on a terminal, nothing on a pipe unless asked", () => {
  const out: string[] = [];
  const tty = { isTTY: true, columns: 120, write: (s: string) => out.push(s) };
  const env = { TERM: "xterm" };
  const view = trainView("public model", { steps: 3 }, undefined, { stream: tty, env, display: { bridge: null } });
  assert.ok(view, "a terminal gets the line");
  for (let i = 1; i <= 3; i++) view.onProgress(step(i));
  view.done();
  const text = out.join("");
  assert.match(text, /\rpublic model · 33% 1\/3 steps · loss 3\.900 · 1,234 tok\/s/);
  assert.ok(text.endsWith("\r\x1b[K"), "the line is removed at the end");

  const pipe = { isTTY: false, write: () => assert.fail("nothing may be written to a pipe by default") };
  assert.equal(trainView("public model", { steps: 3 }, undefined, { stream: pipe, env, display: { bridge: null } }), undefined);
  assert.equal(trainView("public model", { steps: 3 }, undefined, { stream: tty, env: { ...env, CI: "true" }, display: { bridge: null } }), undefined, "CI is not a terminal");
  assert.equal(trainView("public model", { steps: 3, live: false }, undefined, { stream: tty, env, display: { bridge: null } }), undefined);
  assert.equal(trainView("public model", { steps: 3, onProgress: () => {} }, undefined, { stream: tty, env, display: { bridge: null } }), undefined);

  const plain: string[] = [];
  const asked = trainView("public model", { steps: 2, live: true }, undefined, { stream: { isTTY: false, write: (s: string) => plain.push(s) }, env, display: { bridge: null } });
  asked!.onProgress(step(1));
  asked!.onProgress(step(2));
  asked!.done();
  assert.deepEqual(plain.map((l) => l.replace(/ · (ETA \S+|[\d:]+ elapsed|[\d.]+ steps\/s)/g, "")), ["public model · 50% 1/2 steps · loss 3.900 · 1,234 tok/s\n", "public model · 100% 2/2 steps · loss 3.800 · 1,234 tok/s\n"]);
});
