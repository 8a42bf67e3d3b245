/**
 * The README's main job on the WebGPU route: `flexolmo pipeline --preset tiny` end to end on Dawn's
 * OpenGL ES backend over Mesa's llvmpipe (no GPU needed), against the same job on wasm. Skips where
 * the route is unavailable, except under FLEXOLMO_REQUIRE_WEBGPU=1 (CI), where it fails.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const CLI = path.resolve(__dirname, "../../lib/cli/main.js");
const LLVMPIPE = { EGL_PLATFORM: "surfaceless", FLEXOLMO_WEBGPU_FLAGS: "backend=opengles", FLEXOLMO_WEBGPU_SOFTWARE: "1" };

interface PipelineResults {
  backend: string;
  table: Record<string, Record<string, number>>;
  invariants: Record<string, boolean>;
  interrupted?: unknown;
}

function pipeline(backend: string, out: string): { code: number; stderr: string; results?: PipelineResults } {
  const r = spawnSync(process.execPath, [CLI, "pipeline", "--preset", "tiny", "--out", out], {
    encoding: "utf-8",
    env: { ...process.env, ...LLVMPIPE, FLEXOLMO_BACKEND: backend },
    maxBuffer: 64 << 20,
  });
  const file = path.join(out, "results.json");
  return { code: r.status ?? -1, stderr: r.stderr, results: fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf-8")) as PipelineResults) : undefined };
}

test("the tiny-preset pipeline runs end to end on WebGPU (software adapter): every owner's invariants hold bit for bit, perplexities within 5 % of wasm's", async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-webgpu-"));
  try {
    const gpu = pipeline("webgpu", path.join(tmp, "webgpu"));
    if (gpu.code !== 0 && /no WebGPU adapter|libvulkan|not installed/.test(gpu.stderr)) {
      const why = `the WebGPU route is not available here: ${gpu.stderr.trim().split("\n").pop()}`;
      if (process.env.FLEXOLMO_REQUIRE_WEBGPU === "1") assert.fail(`${why} (FLEXOLMO_REQUIRE_WEBGPU=1)`);
      return t.skip(why);
    }
    assert.equal(gpu.code, 0, gpu.stderr.slice(-3000));
    const wasm = pipeline("wasm", path.join(tmp, "wasm"));
    assert.equal(wasm.code, 0, wasm.stderr.slice(-3000));
    const g = gpu.results!, w = wasm.results!;
    assert.match(g.backend, /^webgpu .*routing on the device/);
    assert.match(w.backend, /^wasm/);
    assert.ok(!g.interrupted);
    assert.deepEqual(Object.keys(g.invariants).sort(), ["code", "math"]);
    for (const [owner, ok] of Object.entries(g.invariants)) assert.equal(ok, true, `owner ${owner}: a frozen tensor changed on webgpu`);
    assert.deepEqual(Object.keys(g.table), Object.keys(w.table));
    for (const model of Object.keys(w.table)) {
      for (const domain of Object.keys(w.table[model])) {
        const a = w.table[model][domain], b = g.table[model][domain];
        assert.ok(Math.abs(b - a) / a <= 0.05, `${model} on ${domain}: webgpu ${b} vs wasm ${a}`);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
