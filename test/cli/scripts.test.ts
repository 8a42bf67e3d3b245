/**
 * The command lines outside `flexolmo` itself — bench, the GPU bench, data build, the tokenizer
 * comparison, the kernel installer, the notebook runner — parse with lib/cli/args.ts, so their
 * flags keep working and a typo gets "did you mean"; and where `reproduce` writes (--out).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { parseArgs, scriptHelp, UsageError, type ScriptSpec } from "../../lib/cli/args";
import { DEFAULT_OUT, outputPaths } from "../../lib/cli/commands/reproduce";
import { reproduceArgs } from "../../lib/reproduce/main";
import { argsFrom as benchArgs, SPEC as BENCH } from "../../bench/main";
import { argsFrom as buildArgs, SPEC as BUILD } from "../../data/build/main";
import { argsFrom as compareArgs, SPEC as COMPARE } from "../../data/build/tokenizer-compare";
import { SPEC as GPU } from "../../bench/gpu/ours";
import { SPEC as INSTALL } from "../../kernel/install";
import { SPEC as NOTEBOOKS } from "../../kernel/run-notebook";
import { inProcess } from "./helpers";

const parse = (spec: ScriptSpec, argv: string[]) => parseArgs(argv, spec.flags, spec.positionals ?? []);

test("every script answers a mistyped flag with did-you-mean, and documents its flags in --help", () => {
  const typos: Array<[ScriptSpec, string, string]> = [
    [BENCH, "--quik", "--quick"],
    [BENCH, "--no-sweeps", "--no-sweep"],
    [BUILD, "--alow-drift", "--allow-drift"],
    [COMPARE, "--vocabs", "--vocab"],
    [GPU, "--export-onyl", "--export-only"],
    [INSTALL, "--prefx", "--prefix"],
    [NOTEBOOKS, "--alow-errors", "--allow-errors"],
  ];
  for (const [spec, typo, meant] of typos) {
    assert.throws(() => parse(spec, [typo]), (e: Error) => e instanceof UsageError && e.message === `unknown flag ${typo} (did you mean ${meant}?)`, `${spec.prog} ${typo}`);
    const help = scriptHelp(spec);
    assert.ok(help.startsWith(`Usage: ${spec.prog} `), help);
    for (const f of spec.flags) assert.ok(help.includes(`--${f.name}`), `${spec.prog} --help lacks --${f.name}`);
  }
});

test("the scripts keep their flags and checks", () => {
  const b = benchArgs(parse(BENCH, ["--quick", "--out", "/tmp/b.json", "--no-memory", "--memory-steps", "20", "--json"]));
  assert.deepEqual(b, { quick: true, out: "/tmp/b.json", json: true, ablate: false, ablateChild: undefined, modelsChild: false, memorySteps: 20, noBefore: false, noSweep: false, noMemory: true });
  assert.equal(benchArgs(parse(BENCH, ["--ablate-child", "dense", "--quick"])).ablateChild, "dense", "the child protocol still parses");
  assert.throws(() => benchArgs(parse(BENCH, ["--memory-steps", "5"])), /--memory-steps must be an integer ≥ 10 \(got 5\)/);
  assert.throws(() => parse(BENCH, ["--memory-steps", "many"]), /--memory-steps must be an integer \(got "many"\)/);

  const d = buildArgs(parse(BUILD, ["--out", "rel/dir", "--no-tokenizer"]), "/pkg");
  assert.deepEqual(d, { out: path.resolve("rel/dir"), cache: path.join("/pkg", ".sources"), allowDrift: false, tokenizer: false, json: false });
  assert.equal(buildArgs(parse(BUILD, []), "/pkg").out, path.join("/pkg", "data", "flexmix-mini"));

  assert.equal(compareArgs(parse(COMPARE, ["--vocab", "512", "--speed"])).vocab, 512);
  assert.throws(() => compareArgs(parse(COMPARE, ["--vocab", "100"])), /--vocab must be an integer ≥ 258 \(got 100\)/);

  assert.deepEqual(parse(NOTEBOOKS, ["a.ipynb", "b.ipynb", "--html"]).positionals, ["a.ipynb", "b.ipynb"], "any number of notebooks");
  assert.throws(() => parse(NOTEBOOKS, ["--html"]), /missing NOTEBOOK\.ipynb/);
});

test("a script run with a typo exits 2 with the message and a pointer to --help, before doing any work", () => {
  const r = spawnSync(process.execPath, [path.resolve(__dirname, "../../data/build/tokenizer-compare.js"), "--sped"], { encoding: "utf-8" });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, "node dist/data/build/tokenizer-compare.js: unknown flag --sped (did you mean --speed?)\nRun 'node dist/data/build/tokenizer-compare.js --help' for usage.\n");
  assert.equal(r.stdout, "");
});

test("reproduce writes under --out (default runs/reproduce) in the repository's layout; npm run reproduce passes the repository", async () => {
  assert.equal(DEFAULT_OUT, "runs/reproduce");
  assert.deepEqual(outputPaths("study", {}), { results: path.join("runs/reproduce", "results"), report: path.join("runs/reproduce", "docs/results.md"), figures: path.join("runs/reproduce", "docs/figures") });
  // `--out .` (the repository, as npm run reproduce passes it): exactly the committed paths.
  assert.deepEqual(outputPaths("study", { out: "." }), { results: "results", report: path.join("docs", "results.md"), figures: path.join("docs", "figures") });
  assert.deepEqual(outputPaths("quick", { out: "." }), { results: path.join("results", "quick"), report: path.join("docs", "results-quick.md"), figures: path.join("docs", "figures", "quick") });
  assert.deepEqual(outputPaths("tiny", { out: "/x", report: "/r.md" }), { results: "/x/results/tiny", report: "/r.md", figures: "/x/docs/figures/tiny" });
  assert.deepEqual(reproduceArgs(["--quick"], "/repo"), ["reproduce", "--out", "/repo", "--quick"]);
  assert.deepEqual(reproduceArgs(["--out", "/mine"], "/repo"), ["reproduce", "--out", "/mine"], "a user's --out wins");
  assert.deepEqual(reproduceArgs(["--out=/mine", "--quick"], "/repo"), ["reproduce", "--out=/mine", "--quick"]);
  const help = await inProcess(["reproduce", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout.replace(/\s+/g, " "), /--out DIR folder for everything the run writes \(default runs\/reproduce, under the current directory\)/);
  assert.match(help.stdout, /--json/);
});
