/**
 * The WebGPU route of lib/backend.ts, exercised for real where possible:
 *  - without the Vulkan loader (this machine and CI): fast, clear failure;
 *  - Dawn's null backend: rejected (it computes nothing);
 *  - Mesa's llvmpipe through Dawn's OpenGL ES backend (EGL surfaceless, no GPU needed): rejected as a
 *    CPU adapter by default; with FLEXOLMO_WEBGPU_SOFTWARE=1 the real tfjs-backend-webgpu runs on it;
 *  - a tf.setBackend("webgpu") failure, which needs a device that fails to open: simulated with a
 *    stand-in for the `webgpu` package, since no real driver fails on demand.
 * After every failure a tensor op must still compute correctly (TF.js must not be left on a broken backend).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "../lib/tf";
import { BACKEND_NAMES, findLibrary, initBackend, librarySearchDirs, selectAutomatically, webgpuTesting, DawnModule } from "../lib/backend";
import { MODEL_PRESETS } from "../lib/model/config";
import { disposeParams, forward, initParams } from "../lib/model/model";

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const HAVE_WEBGPU = installed("webgpu") && installed("@tensorflow/tfjs-backend-webgpu");
const NO_WEBGPU = "`webgpu` / `@tensorflow/tfjs-backend-webgpu` (optional peer dependencies, devDependencies of this repository) are not installed";

/** Run f with some environment variables set (undefined = unset), restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, f: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** [[1,2],[3,4]]² = [[7,10],[15,22]], worked by hand. */
function assertMatMulWorks(): void {
  const y = tf.tidy(() => {
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    return tf.matMul(a, a);
  });
  assert.deepEqual(Array.from(y.dataSync()), [7, 10, 15, 22]);
  y.dispose();
}

test("the Vulkan loader is looked up on disk: LD_LIBRARY_PATH first, then the system directories", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-vk-"));
  try {
    const dirs = librarySearchDirs({ LD_LIBRARY_PATH: `${dir}:/nonexistent` });
    assert.equal(dirs[0], dir);
    assert.ok(dirs.includes("/usr/lib/x86_64-linux-gnu"));
    assert.equal(findLibrary("libvulkan.so.1", [dir]), undefined);
    fs.writeFileSync(path.join(dir, "libvulkan.so.1"), "");
    assert.equal(findLibrary("libvulkan.so.1", ["/nonexistent", dir]), path.join(dir, "libvulkan.so.1"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("webgpu sits between tfjs-node-gpu and tfjs-node in the automatic order", () => {
  assert.deepEqual([...BACKEND_NAMES], ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"]);
});

test("FLEXOLMO_BACKEND=webgpu without libvulkan fails with a message naming what is missing; ops keep working", async (t) => {
  if (process.platform !== "linux") return t.skip("the Vulkan loader check is Linux-only");
  if (findLibrary("libvulkan.so.1", librarySearchDirs())) return t.skip("libvulkan.so.1 is installed here");
  await initBackend("cpu");
  await withEnv({ FLEXOLMO_BACKEND: "webgpu", FLEXOLMO_WEBGPU_FLAGS: undefined }, async () => {
    await assert.rejects(() => initBackend(), (e: Error) => {
      assert.match(e.message, /requested backend "webgpu" could not be initialised/);
      assert.match(e.message, /libvulkan\.so\.1/);
      assert.match(e.message, /apt-get install libvulkan1/);
      return true;
    });
  });
  assert.equal(tf.getBackend(), "cpu");
  assertMatMulWorks();
  // Automatic selection records the same reason and moves on.
  const r = await selectAutomatically();
  const w = r.attempts.find((a) => a.name === "webgpu");
  assert.ok(w && !w.ok && /libvulkan\.so\.1/.test(w.reason ?? ""), JSON.stringify(w));
  assert.match(r.summary, /webgpu \(no libvulkan1\)/);
  assertMatMulWorks();
});

test("Dawn's null adapter is rejected: it computes nothing", { skip: HAVE_WEBGPU ? false : NO_WEBGPU }, async () => {
  await initBackend("cpu");
  await withEnv({ FLEXOLMO_WEBGPU_FLAGS: "backend=null", FLEXOLMO_WEBGPU_SOFTWARE: "1" }, async () => {
    await assert.rejects(() => initBackend("webgpu"), /Dawn's null backend.*computes nothing/);
  });
  assert.equal(tf.getBackend(), "cpu");
  assertMatMulWorks();
});

// llvmpipe needs Mesa's EGL (libegl-mesa0); where it is missing Dawn finds no adapter and we skip.
const LLVMPIPE = { FLEXOLMO_WEBGPU_FLAGS: "backend=opengles", EGL_PLATFORM: "surfaceless" };

test("a CPU rasteriser (llvmpipe) is refused unless FLEXOLMO_WEBGPU_SOFTWARE=1", { skip: HAVE_WEBGPU ? false : NO_WEBGPU }, async (t) => {
  await initBackend("cpu");
  let message = "";
  await withEnv({ ...LLVMPIPE, FLEXOLMO_WEBGPU_SOFTWARE: undefined }, async () => {
    await initBackend("webgpu").catch((e: Error) => (message = e.message));
  });
  if (/no WebGPU adapter/.test(message)) return t.skip("Dawn's OpenGL ES backend found no adapter here (Mesa EGL missing)");
  assert.match(message, /CPU rasteriser \("llvmpipe/);
  assert.match(message, /FLEXOLMO_WEBGPU_SOFTWARE=1/);
  assert.equal(tf.getBackend(), "cpu");
  assertMatMulWorks();
});

test("with FLEXOLMO_WEBGPU_SOFTWARE=1 the real tfjs-backend-webgpu runs the dense model like cpu does", { skip: HAVE_WEBGPU ? false : NO_WEBGPU }, async (t) => {
  const cfg = { ...MODEL_PRESETS.tiny, experts: ["public"], topK: 1 };
  const ids = [[5, 17, 2, 4095, 300, 9, 9, 1]];
  // Reference: the cpu backend.
  await initBackend("cpu");
  const pc = initParams(cfg, 3);
  const ref = tf.tidy(() => forward(pc, cfg, tf.tensor2d(ids, [1, 8], "int32")).logits);
  const want = ref.dataSync().slice();
  ref.dispose();
  disposeParams(pc);

  let r;
  try {
    r = await withEnv({ ...LLVMPIPE, FLEXOLMO_WEBGPU_SOFTWARE: "1" }, () => initBackend("webgpu"));
  } catch (e) {
    if (/no WebGPU adapter/.test((e as Error).message)) return t.skip("Dawn's OpenGL ES backend found no adapter here (Mesa EGL missing)");
    throw e;
  }
  assert.equal(r.name, "webgpu");
  assert.equal(tf.getBackend(), "webgpu");
  assert.equal(r.gpu, false, "a software adapter must not make lib/flex pick the gpu preset");
  assert.ok(r.adapter && r.adapter.software && r.adapter.featureLevel === "compatibility", JSON.stringify(r.adapter));
  // Node has no OffscreenCanvas, so GPU-resident tensors cannot be read synchronously; the report says
  // so, and that the MoE routes on the device (the engine reads asynchronously).
  assert.equal(r.adapter.syncReads, false);
  assert.match(r.adapter.syncReadError ?? "", /OffscreenCanvas/);
  assert.match(r.summary, /routing on the device/);

  const pw = initParams(cfg, 3);
  const out = tf.tidy(() => forward(pw, cfg, tf.tensor2d(ids, [1, 8], "int32")).logits);
  const got = await out.data(); // async reads work on webgpu
  out.dispose();
  disposeParams(pw);
  assert.equal(got.length, want.length);
  let maxDiff = 0;
  for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
  assert.ok(maxDiff < 1e-4, `webgpu logits differ from cpu by ${maxDiff}`);
});

test("automatic selection takes a working software WebGPU adapter when asked to (FLEXOLMO_WEBGPU_SOFTWARE=1): the engine needs no synchronous reads", { skip: HAVE_WEBGPU ? false : NO_WEBGPU }, async (t) => {
  await initBackend("cpu");
  try {
    const r = await withEnv({ ...LLVMPIPE, FLEXOLMO_WEBGPU_SOFTWARE: "1" }, () => selectAutomatically());
    const w = r.attempts.find((a) => a.name === "webgpu")!;
    if (/no WebGPU adapter/.test(w.reason ?? "")) return t.skip("Dawn's OpenGL ES backend found no adapter here (Mesa EGL missing)");
    assert.equal(w.ok, true, w.reason);
    assert.equal(r.name, "webgpu");
    assert.equal(tf.getBackend(), "webgpu");
  } finally {
    // Leave the process as the other tests expect it: on cpu, with no webgpu backend registered.
    await initBackend("cpu");
    if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  }
  assertMatMulWorks();
});

/** A stand-in for the `webgpu` package: a hardware-looking adapter whose device fails to open. */
function failingDawn(): DawnModule {
  const adapter = {
    info: { vendor: "nvidia", architecture: "hopper", device: "stand-in H100", description: "device creation fails" },
    features: new Set<string>(),
    limits: {},
    requestDevice: () => Promise.reject(new Error("device lost (stand-in)")),
  };
  return { create: () => ({ requestAdapter: async () => adapter }), globals: {} };
}

test("a failed tf.setBackend('webgpu') falls back explicitly: the next route is used and ops compute correctly", { skip: HAVE_WEBGPU ? false : NO_WEBGPU }, async () => {
  webgpuTesting.setDawnLoader(async () => failingDawn());
  // TF.js logs the failed initialisation with console.warn; keep the test output readable.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    await initBackend("cpu");
    const r = await selectAutomatically();
    const w = r.attempts.find((a) => a.name === "webgpu")!;
    assert.equal(w.ok, false);
    assert.match(w.reason ?? "", /tf\.setBackend\('webgpu'\) failed on adapter "nvidia \/ stand-in H100/);
    assert.notEqual(r.name, "webgpu");
    assert.equal(tf.getBackend(), r.tfBackend);
    assert.equal(tf.findBackendFactory("webgpu"), null);
    assertMatMulWorks();

    // Forced: an error, and TF.js is back on the backend that was active before.
    await initBackend("cpu");
    await assert.rejects(() => initBackend("webgpu"), /tf\.setBackend\('webgpu'\) failed/);
    assert.equal(tf.getBackend(), "cpu");
    assertMatMulWorks();
  } finally {
    console.warn = warn;
    webgpuTesting.setDawnLoader(undefined);
  }
});
