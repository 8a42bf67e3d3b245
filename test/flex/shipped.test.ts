/**
 * The shipped public model (lib/flex/shipped.ts): where a lab uses it and where it refuses, how it is
 * built (`flexolmo train-public`, deterministic, weights only, a card with the command), and how
 * loaded weights carry their earlier training into the data card and into later saves.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { flex } from "../../lib/flex";
import { main } from "../../lib/cli/main";
import { readCheckpointInfo } from "../../lib/io/checkpoint";
import { shippedPublicDir, type ShippedProvenance } from "../../lib/flex/shipped";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-shipped-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const quiet = { stdout: () => {}, stderr: () => {} };

test("the cpu preset ships a public model, with its card, and a cpu lab starts from it", async () => {
  const dir = shippedPublicDir("cpu");
  const info = await readCheckpointInfo(dir);
  const prov = info.sidecar.provenance as unknown as ShippedProvenance;
  assert.equal(info.optimizer, null, "the shipped model is weights only");
  assert.equal(prov.shipped, true);
  assert.match(prov.command, /^flexolmo train-public --preset cpu --steps \d+/);
  assert.match(fs.readFileSync(path.join(dir, "README.md"), "utf8"), new RegExp(prov.command.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")));
  const size = fs.readdirSync(dir).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
  assert.ok(size <= 15e6, `all shipped weights together ≤ 15 MB (got ${(size / 1e6).toFixed(1)} MB)`);

  const lab = await flex.lab({ preset: "cpu", backend: "cpu" });
  assert.equal(await lab.whyNotShipped(), undefined);
  const pub = await lab.publicModel();
  try {
    assert.ok(pub.pretrained?.shipped);
    assert.equal(pub.step, 0);
    assert.equal(pub.totalSteps, info.sidecar.step);
    assert.equal(pub.trunkFingerprint(), prov.trunk, "the weights are the ones the card describes");
    const card = pub.card();
    assert.equal(card.training.steps, info.sidecar.step);
    assert.equal((card.training.startedFrom as { from: string }).from, "the shipped public model");
  } finally {
    pub.dispose();
  }
  const fresh = await lab.publicModel({ from: "scratch" });
  assert.equal(fresh.pretrained, undefined);
  fresh.dispose();
  await assert.rejects(lab.publicModel({ seed: 3 }), /shipped model has its own seed; pass \{ from: "scratch", seed \}/);
});

test("a lab the shipped model does not fit starts from scratch, and says why when asked for it", async () => {
  const tiny = await flex.lab({ preset: "tiny", backend: "cpu" });
  assert.match((await tiny.whyNotShipped())!, /no public model is shipped for the "tiny" preset/);
  const p = await tiny.publicModel();
  assert.equal(p.pretrained, undefined);
  p.dispose();
  await assert.rejects(tiny.publicModel({ from: "shipped" }), /cannot use the shipped public model: no public model is shipped for the "tiny" preset.*Use \{ from: "scratch" \}/);
  const wide = await flex.lab({ preset: "cpu", backend: "cpu", model: { dFf: 384 } });
  assert.match((await wide.whyNotShipped())!, /differs from the shipped one \(shipped vs lab\): dFf 352 vs 384/);
  await assert.rejects(wide.publicModel({ from: "nope" as never }), /from must be "shipped" or "scratch"/);
});

test("train-public is deterministic, saves weights only with its card, and loaded weights keep their history", async () => {
  const out = (n: number) => path.join(tmp, `pub${n}`);
  for (const n of [1, 2]) {
    const code = await main(["train-public", "--preset", "tiny", "--steps", "4", "--eval-every", "2", "--eval-windows", "2", "--task-items", "2", "--out", out(n), "--backend", "cpu"], quiet);
    assert.equal(code, 0);
  }
  const [a, b] = [await readCheckpointInfo(out(1)), await readCheckpointInfo(out(2))];
  assert.equal(a.optimizer, null);
  assert.equal(a.sidecar.step, 4);
  const pa = a.sidecar.provenance as unknown as ShippedProvenance, pb = b.sidecar.provenance as unknown as ShippedProvenance;
  assert.equal(pa.trunk, pb.trunk, "same seed, same weights");
  assert.equal(pa.command, "flexolmo train-public --preset tiny --steps 4 --eval-every 2 --seed 0 --eval-windows 2 --task-items 2");
  const curve = (a.sidecar.metadata.build as { curve: { step: number }[] }).curve;
  assert.deepEqual(curve.map((p) => p.step), [2, 4]);
  const readme = fs.readFileSync(path.join(out(1), "README.md"), "utf8");
  assert.match(readme, /## Learning curve/);
  assert.match(readme, /## Toy tasks/);

  // Loaded without optimizer state: a new run that remembers the 4 steps it already had.
  const lab = await flex.lab({ preset: "tiny", backend: "cpu", train: { batchSize: 2 } });
  const pub = await lab.loadPublicModel(out(1));
  assert.deepEqual({ steps: pub.pretrained?.steps, shipped: pub.pretrained?.shipped, step: pub.step }, { steps: 4, shipped: true, step: 0 });
  await pub.train({ steps: 2 });
  assert.equal(pub.totalSteps, 6);
  await pub.save(path.join(tmp, "more")); // with optimizer state: resumes exactly, still 4 + 2
  pub.dispose();
  // Saved again before any training, a resumed model keeps its optimizer state (it is not silently dropped).
  const reopened = await lab.loadPublicModel(path.join(tmp, "more"));
  await reopened.save(path.join(tmp, "again"));
  reopened.dispose();
  assert.equal((await readCheckpointInfo(path.join(tmp, "again"))).optimizer?.step, 2);
  const again = await lab.loadPublicModel(path.join(tmp, "again"));
  await again.train({ steps: 0 });
  assert.deepEqual({ pretrained: again.pretrained?.steps, step: again.step, total: again.totalSteps }, { pretrained: 4, step: 2, total: 6 });
  again.dispose();
});
