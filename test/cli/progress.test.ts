/**
 * The progress line (lib/cli/progress.ts) with a fake clock and a fake stream: its format on a
 * terminal and in plain mode, the ETA arithmetic, when plain lines are printed, and log lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { etaSeconds, formatClock, formatRate, isInteractive, Progress, type ProgressOptions } from "../../lib/cli/progress";
import { SeedProgress } from "../../lib/cli/commands/reproduce";

function fake(isTTY: boolean, env: NodeJS.ProcessEnv = {}, extra: Partial<ProgressOptions> = {}) {
  let t = 0;
  const writes: string[] = [];
  const stream = { write: (s: string) => writes.push(s), isTTY, columns: 200 };
  const p = new Progress({ label: "pipeline", total: 200, unit: "steps", stream, now: () => t, env, interval: 10_000, redraw: 100, ...extra });
  return { p, writes, advance: (ms: number) => (t += ms), text: () => writes.join("") };
}

test("ETA: elapsed × remaining / done, counting only units done in this run", () => {
  assert.equal(etaSeconds(50, 200, 25), 75); // 2 units/s, 150 left
  assert.equal(etaSeconds(0, 200, 25), undefined, "nothing done yet: no estimate");
  assert.equal(etaSeconds(10, undefined, 25), undefined, "unknown total: no estimate");
  assert.equal(etaSeconds(200, 200, 25), 0);
  assert.equal(etaSeconds(250, 200, 25), 0);
  // 1 of 3 seeds was reused (done at start): 1 seed in 600 s this run, 1 left → 600 s, not 300 s.
  assert.equal(etaSeconds(2, 3, 600, 1), 600);
  assert.equal(formatClock(0), "0:00");
  assert.equal(formatClock(75), "1:15");
  assert.equal(formatClock(59.6), "1:00");
  assert.equal(formatClock(3725), "1:02:05");
  assert.equal(formatRate(2.44), "2.4");
  assert.equal(formatRate(351.6), "352");
});

test("a terminal gets one line rewritten in place with per cent, rate and ETA", () => {
  const f = fake(true);
  f.p.stage("owners math, code");
  f.p.update(0); // the first update is where this run starts counting
  f.advance(10_000);
  f.p.update(50);
  const last = f.writes[f.writes.length - 1];
  assert.equal(last, "\rpipeline · owners math, code · 25% 50/200 steps · 5.0 steps/s · ETA 0:30\x1b[K");
  assert.ok(f.writes.every((w) => !w.includes("\n")), "no newline: the line is rewritten, never scrolled");
  // Redraws are throttled: an update 10 ms later writes nothing, one 100 ms later does.
  const n = f.writes.length;
  f.advance(10);
  f.p.update(51);
  assert.equal(f.writes.length, n);
  f.advance(100);
  f.p.update(52);
  assert.equal(f.writes.length, n + 1);
  // A log line goes above the progress line, which is drawn again under it.
  f.p.log("  owner \"math\": all 23 frozen tensors are bit-identical ✓");
  assert.equal(f.writes[f.writes.length - 2], "\r\x1b[K  owner \"math\": all 23 frozen tensors are bit-identical ✓\n");
  assert.match(f.writes[f.writes.length - 1], /^\rpipeline · owners math, code · 26% 52\/200 steps .*\x1b\[K$/);
  f.p.finish();
  assert.equal(f.writes[f.writes.length - 1], "\r\x1b[K", "finish erases the line");
  f.p.update(60);
  assert.equal(f.writes[f.writes.length - 1], "\r\x1b[K", "nothing after finish");
});

test("plain lines where stderr is not a terminal, or in CI: the first at once, then one per interval, and the last", () => {
  for (const f of [fake(false), fake(true, { CI: "true" }), fake(true, { TERM: "dumb" })]) {
    assert.equal(f.p.tty, false);
    f.p.stage("public model");
    assert.equal(f.writes.length, 0, "a plain stage change waits for the next line");
    f.p.update(0);
    assert.deepEqual(f.writes, ["pipeline · public model · 0% 0/200 steps · 0:00 elapsed\n"]);
    for (let i = 1; i <= 30; i++) {
      f.advance(1_000);
      f.p.update(2 * i);
    }
    // 30 s of updates: lines at 10, 20 and 30 s only.
    assert.equal(f.writes.length, 4);
    assert.equal(f.writes[1], "pipeline · public model · 10% 20/200 steps · 2.0 steps/s · ETA 1:30\n");
    assert.ok(f.writes.every((w) => !w.includes("\r") && !w.includes("\x1b")), "no control characters in plain mode");
    f.advance(500);
    f.p.update(61);
    f.p.finish();
    assert.match(f.writes[f.writes.length - 1], /^pipeline · public model · 30% 61\/200 steps/);
    f.p.log("a log line");
    assert.equal(f.writes[f.writes.length - 1], "a log line\n");
  }
  assert.equal(isInteractive({ write: () => undefined, isTTY: true }, { CI: "false" }), true, "CI=false is not CI");
  assert.equal(isInteractive({ write: () => undefined, isTTY: true }, { CI: "0" }), true);
});

test("text from the run (stage names, log lines) cannot reach the terminal raw; a long line is cut to the width", () => {
  const f = fake(true);
  f.p.stage("owner \x1b]0;pwned\x07");
  assert.ok(!f.text().includes("\x07") && f.text().includes("\\u001b]0;pwned\\u0007"));
  f.p.log("evil \x1b[2J");
  assert.ok(!f.text().includes("\x1b[2J"));
  const writes: string[] = [];
  const p = new Progress({ label: "pipeline", total: 10, stream: { write: (s: string) => writes.push(s), isTTY: true, columns: 30 }, now: () => 0, env: {} });
  p.stage("a very long stage name that does not fit");
  assert.equal(writes[0], "\rpipeline · a very long stage…\x1b[K");
  assert.ok(writes[0].length - "\r\x1b[K".length <= 29);
});

test("unknown total: units and elapsed time, no per cent; skipped units count toward the per cent, not the rate", () => {
  const f = fake(false, {}, { total: undefined });
  f.p.update(5);
  f.advance(10_000);
  f.p.update(25);
  assert.equal(f.writes[1], "pipeline · 25 steps · 2.0 steps/s · 0:10 elapsed\n");
  const s = fake(false, {}, { total: 3, unit: "seeds", showRate: false, label: "reproduce study" });
  s.p.skip(1); // a reused seed
  s.advance(600_000);
  s.p.update(2); // one seed run in 600 s
  assert.equal(s.writes[s.writes.length - 1], "reproduce study · 66% 2/3 seeds · ETA 10:00\n");
});

test("reproduce's progress: seeds as the unit, the running seed by the last finished seed's part times", () => {
  const f = fake(false, {}, { total: 2, unit: "seeds", showRate: false, label: "reproduce", interval: 0 });
  const sp = new SeedProgress(f.p, [0, 1]);
  sp.on({ seed: 0, event: "start" });
  sp.on({ seed: 0, event: "stage", stage: "public model" });
  assert.equal(sp.runningShare(), 0, "no finished seed: no weights, no guess");
  assert.match(f.writes[f.writes.length - 1], /^reproduce · seed 0 \(1 of 2\) · public model · 0% 0\/2 seeds · 0:00 elapsed\n$/);
  f.advance(900_000);
  sp.on({ seed: 0, event: "done", parts: { "public model": 300, "dense experts": 100, evaluation: 200 } });
  sp.on({ seed: 1, event: "start" });
  sp.on({ seed: 1, event: "stage", stage: "public model" });
  assert.equal(sp.runningShare(), 0);
  sp.on({ seed: 1, event: "stage", stage: "dense experts" });
  assert.equal(sp.runningShare(), 0.5, "the public model was 300 of 600 s");
  f.advance(450_000);
  sp.on({ seed: 1, event: "stage", stage: "evaluation" });
  assert.ok(Math.abs(sp.runningShare() - 400 / 600) < 1e-12);
  // 1.67 of 2 seeds in 1350 s: 0.33 left at that rate is 270 s.
  assert.equal(f.writes[f.writes.length - 1], "reproduce · seed 1 (2 of 2) · evaluation · 83% 1.7/2 seeds · ETA 4:30\n");
});
