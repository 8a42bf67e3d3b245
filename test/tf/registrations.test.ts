/**
 * lib/tf: tfjs-core plus what the umbrella @tensorflow/tfjs used to register (every gradient and
 * chained tensor method of tfjs-core, the cpu backend), checked against tfjs-core's own file lists
 * and against finite differences, and the generated module checked to be current.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { GENERATED_PATH, generateCoreRegistrations } from "../../lib/tf/generate";
import { packageRoot } from "../../lib/util/package";

const CORE = path.dirname(require.resolve("@tensorflow/tfjs-core/package.json"));
const CORE_DIST = path.join(CORE, "dist");

test("the committed generated module is what the generator makes from the installed tfjs-core", () => {
  const committed = fs.readFileSync(path.join(packageRoot(), GENERATED_PATH), "utf8");
  assert.ok(committed === generateCoreRegistrations(CORE), `${GENERATED_PATH} is stale: run node dist/lib/tf/generate.js and commit it`);
});

test("every gradient tfjs-core's register_all_gradients lists is registered", () => {
  const list = fs.readFileSync(path.join(CORE_DIST, "register_all_gradients.js"), "utf8");
  const files = [...list.matchAll(/from '\.\/(gradients\/\w+)'/g)].map((m) => m[1]);
  assert.ok(files.length > 90, `found only ${files.length} gradient files`);
  const missing: string[] = [];
  for (const f of files) {
    const src = fs.readFileSync(path.join(CORE_DIST, `${f}.js`), "utf8");
    const constant = /kernelName: (\w+)/.exec(src)?.[1];
    assert.ok(constant, `${f}.js names no kernel`);
    const kernel = (tf as unknown as Record<string, unknown>)[constant];
    assert.equal(typeof kernel, "string", `${constant} is a kernel name exported by tfjs-core`);
    if (!tf.getGradient(kernel as string)) missing.push(kernel as string);
  }
  assert.deepEqual(missing, []);
  // The registry is the process-wide one: tfjs-core imported directly sees the same gradients.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const core = require("@tensorflow/tfjs-core") as typeof tf;
  assert.ok(core.getGradient("Softmax") && core.getGradient("UnsortedSegmentSum"));
});

test("every chained tensor method of tfjs-core exists, and they compute", () => {
  const dir = path.join(CORE_DIST, "public", "chained_ops");
  const methods = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".js") && !f.endsWith("_test.js") && f !== "register_all_chained_ops.js")
    .flatMap((f) => [...fs.readFileSync(path.join(dir, f), "utf8").matchAll(/getGlobalTensorClass\(\)\.prototype\.(\w+) =/g)].map((m) => m[1]));
  assert.ok(methods.length > 100, `found only ${methods.length} chained methods`);
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  assert.deepEqual(methods.filter((m) => typeof proto[m] !== "function"), []);
  const out = tf.tidy(() => tf.tensor1d([1, 2, 3, 4, 5, 6]).reshape([2, 3]).slice([0, 1], [2, 2]).add(1).sum(1).arraySync());
  assert.deepEqual(out, [2 + 1 + 3 + 1, 5 + 1 + 6 + 1]);
});

test("gradients of a function made of the ops the model trains through agree with finite differences", async () => {
  await tf.setBackend("cpu");
  // Broadcasting multiply/add, softmax, max, sigmoid, rsqrt, concat/slice, tile, transpose, mean,
  // square, exp/log, matMul, gather and a segment sum: a cross-section of a training step's graph.
  const f = (w: tf.Tensor2D): tf.Scalar =>
    tf.tidy(() => {
      const x = tf.tensor2d([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]);
      const h = tf.add(tf.mul(tf.matMul(x, w), tf.tensor1d([1.5, -0.5])), 0.25); // [2, 2]
      const p = tf.softmax(tf.concat([h, tf.slice(h, [0, 0], [2, 1])], 1)); // [2, 3]
      const g = tf.sigmoid(tf.tile(tf.transpose(h), [1, 2])); // [2, 4]
      const r = tf.rsqrt(tf.add(tf.mean(tf.square(h), 1, true), 1)); // [2, 1]
      const m = tf.max(tf.mul(h, r), 1); // [2]
      const picked = tf.gather(tf.reshape(p, [6]), tf.tensor1d([0, 4, 5], "int32"));
      const seg = tf.unsortedSegmentSum(tf.reshape(g, [8]), tf.tensor1d([0, 1, 0, 1, 2, 2, 0, 1], "int32"), 3);
      return tf.add(tf.add(tf.sum(tf.log(picked)), tf.sum(m)), tf.sum(tf.exp(tf.mul(seg, 0.1)))) as tf.Scalar;
    });
  const w0 = [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]];
  const w = tf.tensor2d(w0);
  const grad = tf.grad((v: tf.Tensor) => f(v as tf.Tensor2D))(w);
  const analytic = grad.arraySync() as number[][];
  grad.dispose();
  w.dispose();
  const eps = 1e-2;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 2; j++) {
      const at = (d: number) => {
        const v = w0.map((row) => row.slice());
        v[i][j] += d;
        const t = tf.tensor2d(v);
        const y = f(t);
        const out = y.arraySync() as number;
        y.dispose();
        t.dispose();
        return out;
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      assert.ok(Math.abs(numeric - analytic[i][j]) < 2e-2 * Math.max(1, Math.abs(numeric)), `d/dw[${i}][${j}]: analytic ${analytic[i][j]}, numeric ${numeric}`);
    }
  }
});
