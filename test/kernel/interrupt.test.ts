import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterruptPolicy } from "../../kernel/interrupt";
import { patchTslab, SUPPORTED_TSLAB } from "../../kernel/tslab-patch";

function setup(claimed: boolean) {
  const timers: { fn: () => void; ms: number; id: number }[] = [];
  let abandoned = 0;
  let aborts = 0;
  const logs: string[] = [];
  const policy = createInterruptPolicy({
    graceMs: 10_000,
    abortSignal: () => {
      aborts++;
      return { claimed };
    },
    log: (m) => void logs.push(m),
    setTimer: (fn, ms) => {
      const id = timers.length + 1;
      timers.push({ fn, ms, id });
      return id;
    },
    clearTimer: (h) => {
      const i = timers.findIndex((t) => t.id === h);
      if (i >= 0) timers.splice(i, 1);
    },
  });
  return { policy, timers, logs, abandon: () => void abandoned++, abandoned: () => abandoned, aborts: () => aborts };
}

test("interrupt with nobody holding the signal: abandon the cell at once (tslab's behaviour)", () => {
  const s = setup(false);
  s.policy.cellStarted();
  s.policy.onInterrupt(s.abandon, true);
  assert.equal(s.aborts(), 1); // the signal is aborted anyway
  assert.equal(s.abandoned(), 1);
  assert.equal(s.timers.length, 0);
});

test("interrupt while a loop holds the signal: wait for its step boundary, abandon only after the grace period", () => {
  const s = setup(true);
  s.policy.cellStarted();
  s.policy.onInterrupt(s.abandon, true);
  assert.equal(s.abandoned(), 0);
  assert.match(s.logs[0], /stopping at the next step boundary/);
  assert.equal(s.timers.length, 1);
  assert.equal(s.timers[0].ms, 10_000);
  s.timers[0].fn(); // no boundary came
  assert.equal(s.abandoned(), 1);
  assert.match(s.logs[1], /no step boundary within 10 s/);
});

test("the loop stops in time: the cell ends and nothing is abandoned later", () => {
  const s = setup(true);
  s.policy.cellStarted();
  s.policy.onInterrupt(s.abandon, true);
  s.policy.cellEnded();
  assert.equal(s.timers.length, 0);
  assert.equal(s.abandoned(), 0);
});

test("a second interrupt abandons at once; a new cell starts counting afresh; idle interrupts just pass through", () => {
  const s = setup(true);
  s.policy.cellStarted();
  s.policy.onInterrupt(s.abandon, true);
  s.policy.onInterrupt(s.abandon, true);
  assert.equal(s.abandoned(), 1);
  assert.equal(s.timers.length, 0);
  s.policy.cellStarted();
  s.policy.onInterrupt(s.abandon, true);
  assert.equal(s.abandoned(), 1); // first interrupt of the new cell: polite again
  s.policy.cellEnded();
  s.policy.onInterrupt(s.abandon, false); // no cell running
  assert.equal(s.abandoned(), 2);
});

test("tslab patches refuse to apply to internals that moved, with a message saying what to do", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-tslab-"));
  try {
    fs.mkdirSync(path.join(dir, "dist"));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "tslab", version: "2.0.0" }));
    fs.writeFileSync(path.join(dir, "dist", "executor.js"), "function createExecutor(rootDir, convs, console) {}\n");
    fs.writeFileSync(path.join(dir, "dist", "jupyter.js"), "// rewritten\n");
    const report = patchTslab(dir, { beforeCell: async () => undefined, afterCell: () => undefined, onInterrupt: () => undefined, hideFrames: [] });
    assert.equal(report.applied, false);
    assert.equal(report.tslabVersion, "2.0.0");
    assert.match(report.warnings[0], new RegExp(`tslab 2\\.0\\.0's internals differ from ${SUPPORTED_TSLAB.replace(/\./g, "\\.")}`));
    assert.match(report.warnings[0], /executor\.js no longer contains `console\.log\(ret\);`/);
    assert.match(report.warnings[0], /npm install --save-exact tslab@1\.0\.22/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
