import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "../lib/tf";
import { initBackend, backendReport, BACKEND_NAMES, notInstalledHint, selectAutomatically } from "../lib/backend";
import { packageRoot } from "../lib/util/package";

test("an unknown backend name is refused with the list of valid names", async () => {
  await assert.rejects(() => initBackend("tpu"), (e: Error) => {
    assert.match(e.message, /Unknown backend "tpu"/);
    for (const n of BACKEND_NAMES) assert.ok(e.message.includes(n), `message lists ${n}`);
    return true;
  });
});

test("FLEXOLMO_BACKEND is validated too", async () => {
  const saved = process.env.FLEXOLMO_BACKEND;
  process.env.FLEXOLMO_BACKEND = "nonsense";
  try {
    await assert.rejects(() => initBackend(), /from FLEXOLMO_BACKEND/);
  } finally {
    if (saved === undefined) delete process.env.FLEXOLMO_BACKEND;
    else process.env.FLEXOLMO_BACKEND = saved;
  }
});

test("forcing cpu gives the cpu backend, and ops run on it", async () => {
  const r = await initBackend("cpu");
  assert.equal(r.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal(r.forced, true);
  assert.deepEqual(r.attempts.map((a) => a.name), ["cpu"]);
  assert.equal(backendReport(), r);
  const y = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).arraySync());
  assert.deepEqual(y, [2, 3]);
});

test("forcing wasm switches backends; ops give the same numbers", async () => {
  const r = await initBackend("wasm");
  assert.equal(r.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(typeof r.flags.simd, "boolean");
  const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).arraySync());
  assert.deepEqual(y, [[11]]);
});

test("automatic selection records why each skipped backend failed", async () => {
  const saved = process.env.FLEXOLMO_BACKEND;
  delete process.env.FLEXOLMO_BACKEND;
  try {
    // Reset to a non-default so that automatic selection runs again from the top.
    await initBackend("cpu");
    const { selectAutomatically } = await import("../lib/backend");
    const r = await selectAutomatically();
    const idx = BACKEND_NAMES.indexOf(r.name);
    assert.ok(idx >= 0);
    // Everything before the chosen backend was tried and failed with a recorded reason.
    for (const a of r.attempts.slice(0, -1)) {
      assert.equal(a.ok, false);
      assert.ok(a.reason && a.reason.length > 0, `${a.name} has a reason`);
    }
    assert.equal(r.attempts[r.attempts.length - 1].ok, true);
    assert.deepEqual(r.attempts.map((a) => a.name), BACKEND_NAMES.slice(0, idx + 1));
    assert.ok(r.summary.startsWith(r.name));
  } finally {
    if (saved !== undefined) process.env.FLEXOLMO_BACKEND = saved;
  }
});

test("a missing GPU package is reported with the npm install that opts in, at the versions package.json pins", async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as {
    peerDependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
    dependencies: Record<string, string>;
  };
  // Opt-in: optional peers, never plain dependencies.
  for (const name of ["@tensorflow/tfjs-node-gpu", "webgpu", "@tensorflow/tfjs-backend-webgpu"]) {
    assert.equal(pkg.peerDependenciesMeta[name]?.optional, true, `${name} is an optional peer dependency`);
    assert.equal(pkg.dependencies[name], undefined, `${name} is not a dependency`);
  }
  const hints = { gpu: notInstalledHint("tfjs-node-gpu"), webgpu: notInstalledHint("webgpu") };
  assert.match(hints.gpu, new RegExp(`npm install @tensorflow/tfjs-node-gpu@${pkg.peerDependencies["@tensorflow/tfjs-node-gpu"].replace(/\./g, "\\.")}\``));
  assert.match(hints.webgpu, new RegExp(`npm install webgpu@${pkg.peerDependencies.webgpu.replace(/\./g, "\\.")} @tensorflow/tfjs-backend-webgpu@${pkg.peerDependencies["@tensorflow/tfjs-backend-webgpu"].replace(/\./g, "\\.")}\``));
  // The lab's own tfjs-core is the version those packages need.
  assert.equal(pkg.dependencies["@tensorflow/tfjs-core"], pkg.peerDependencies["@tensorflow/tfjs-node-gpu"]);

  // And the real selection says so where the package is absent (it is not a devDependency either).
  let gpuInstalled = true;
  try {
    require.resolve("@tensorflow/tfjs-node-gpu");
  } catch {
    gpuInstalled = false;
  }
  if (gpuInstalled) return;
  const saved = process.env.FLEXOLMO_BACKEND;
  delete process.env.FLEXOLMO_BACKEND;
  try {
    const r = await selectAutomatically();
    const attempt = r.attempts.find((a) => a.name === "tfjs-node-gpu");
    assert.ok(attempt && !attempt.ok);
    assert.match(attempt.reason!, /Cannot find module '@tensorflow\/tfjs-node-gpu'.*npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
  } finally {
    if (saved !== undefined) process.env.FLEXOLMO_BACKEND = saved;
  }
});

test("without the webgpu packages, forcing webgpu names the npm install before anything else the machine lacks", () => {
  // A child process in which `webgpu` cannot be resolved, as on a plain user install (the repository
  // has it as a devDependency). Requests for it fail exactly as Node's resolver fails for a missing package.
  const hide = `const M=require("module");const r=M._resolveFilename;M._resolveFilename=function(q,...a){if(q==="webgpu"){const e=new Error("Cannot find module 'webgpu'");e.code="MODULE_NOT_FOUND";throw e}return r.call(this,q,...a)};`;
  const script = `${hide}require(${JSON.stringify(path.join(packageRoot(), "dist", "lib", "backend.js"))}).initBackend("webgpu").then(()=>console.log("ok"),(e)=>{console.log(e.message);process.exitCode=3})`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, FLEXOLMO_BACKEND: "", LD_LIBRARY_PATH: "" } });
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /webgpu: Cannot find module 'webgpu' \(not installed: opt in with `npm install webgpu@0\.6\.2 @tensorflow\/tfjs-backend-webgpu@4\.22\.0`/);
});
