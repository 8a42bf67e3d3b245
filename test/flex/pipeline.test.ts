/**
 * `flexolmo pipeline` (lib/flex/pipeline.ts) at the tiny preset: what it writes, where its public
 * model comes from, and the clear errors for a public model it cannot have.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main } from "../../lib/cli/main";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-pipeline-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  return main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) }).then((code) => ({ code, out, err }));
}

test("the pipeline runs end to end under the default (lab) recipe and writes results, summary and checkpoints", async () => {
  const out = path.join(tmp, "run");
  const r = await run(["pipeline", "--preset", "tiny", "--domains", "math", "--public-steps", "6", "--owner-steps", "2", "--router-steps", "0", "--eval-windows", "2", "--out", out, "--backend", "cpu"]);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
  assert.equal(res.recipe, "lab");
  assert.equal(res.publicModel, "scratch, 6 steps");
  assert.equal(res.k, 2);
  assert.deepEqual(Object.keys(res.table), ["public", "flexolmo", "flexolmo − math"]);
  assert.deepEqual(res.invariants, { math: true });
  for (const d of ["public", "owners/math", "merged"]) assert.ok(fs.existsSync(path.join(out, d, "config.json")), d);
  assert.match(fs.readFileSync(path.join(out, "summary.md"), "utf8"), /Recipe: lab\. Public model: scratch, 6 steps\./);
  assert.match(r.err, /public model: from scratch \(no public model is shipped for the "tiny" preset/);
});

test("a public model the preset cannot have is a clear error, not a silent fallback", async () => {
  const shipped = await run(["pipeline", "--preset", "tiny", "--public", "shipped", "--out", path.join(tmp, "x"), "--backend", "cpu"]);
  assert.equal(shipped.code, 1);
  assert.match(shipped.err, /cannot use the shipped public model: no public model is shipped for the "tiny" preset/);
  const zero = await run(["pipeline", "--preset", "tiny", "--public", "scratch", "--public-steps", "0", "--out", path.join(tmp, "y"), "--backend", "cpu"]);
  assert.equal(zero.code, 1);
  assert.match(zero.err, /starts from scratch here; give it --public-steps N > 0/);
  const compare = await run(["compare", "--preset", "tiny", "--public-steps", "0", "--out", path.join(tmp, "z"), "--backend", "cpu"]);
  assert.equal(compare.code, 1);
  assert.match(compare.err, /starts from scratch here; give it --public-steps N > 0/);
});
