/**
 * Ctrl-C in `flexolmo pipeline`, for real: the tiny pipeline in a child process gets SIGINT after
 * its first progress line. It must stop the whole run (no later stage, no checkpoint of the cut-short
 * model), write results that say they are interrupted, and exit 130.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CLI } from "./helpers";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-interrupt-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Run the CLI, send SIGINT once stderr has shown a progress line, and collect what it printed. */
function interruptAfterProgress(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; sentAfter: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FLEXOLMO_BACKEND: "cpu", CI: "" } });
    let stdout = "", stderr = "", sentAfter = "";
    const killer = setTimeout(() => child.kill("SIGKILL"), 120_000); // a run that ignores SIGINT must not hang the suite
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      // The plain progress line (stderr is a pipe): "pipeline · <stage> · 0% 0/36 steps · …".
      if (!sentAfter && /^pipeline · (?:.* · )?\d+% \d+\/\d+ steps/m.test(stderr)) {
        sentAfter = stderr;
        child.kill("SIGINT");
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, sentAfter });
    });
  });
}

const ARGS = ["pipeline", "--preset", "tiny", "--domains", "math", "--public-steps", "30", "--owner-steps", "4", "--router-steps", "2", "--eval-windows", "2"];

test("Ctrl-C during the pipeline stops every later stage, marks results.json and summary.md interrupted, and exits 130", async () => {
  const out = path.join(tmp, "run");
  // An earlier complete run's results in the same folder must not survive looking complete.
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "results.json"), JSON.stringify({ interrupted: false, table: { old: {} } }));
  const r = await interruptAfterProgress([...ARGS, "--out", out]);
  assert.ok(r.sentAfter, `no progress line was printed:\n${r.stderr}`);
  assert.equal(r.signal, null, "the process handled SIGINT instead of being killed by it");
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupt: stopping at the next step boundary/);
  assert.match(r.stderr, /interrupted during "public model: 30 steps on the public mix": no later stage ran/);
  assert.doesNotMatch(r.stderr.slice(r.sentAfter.length), /▶ /, "no stage started after Ctrl-C");

  const res = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
  assert.equal(res.interrupted, true);
  assert.equal(res.interruptedDuring, "public model: 30 steps on the public mix");
  assert.deepEqual(res.stages, {}, "the cut-short stage is not recorded as done");
  assert.deepEqual(res.table, {});
  for (const d of ["public", "owners", "merged", "merged-rt"]) assert.ok(!fs.existsSync(path.join(out, d)), `${d}/ was written after Ctrl-C`);
  assert.match(fs.readFileSync(path.join(out, "summary.md"), "utf8"), /^> \*\*Interrupted\*\* \(Ctrl-C\) during "public model: 30 steps on the public mix"/m);
  assert.match(r.stdout, /INTERRUPTED/);
});

test("with --json, an interrupted pipeline still prints one JSON document on stdout, and it says interrupted", async () => {
  const out = path.join(tmp, "json");
  const r = await interruptAfterProgress([...ARGS, "--out", out, "--json"]);
  assert.equal(r.code, 130, r.stderr);
  const doc = JSON.parse(r.stdout) as { interrupted: boolean; out: string; preset: string };
  assert.equal(doc.interrupted, true);
  assert.equal(doc.out, out);
  assert.equal(doc.preset, "tiny");
  assert.doesNotMatch(r.stdout, /▶|backend:/, "logs stay on stderr");
});
