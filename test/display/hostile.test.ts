/**
 * Hostile strings in notebook output (issue 16, the kernel's surface): a label, a prompt, a text
 * to attribute — anything a learner pastes or a checkpoint carries — reaches text/html only
 * escaped. A raw `<img onerror>` or `<script>` in a notebook output runs in the learner's browser.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { flex, type FlexModel, type PublicModel } from "../../lib/flex";
import { toBundle } from "../../lib/display/mime";
import * as inspect from "../../lib/inspect";

const HOSTILE = `<img src=x onerror="alert(1)"><script>alert(2)</script>`;
let pub: PublicModel;
let merged: FlexModel;

before(async () => {
  const lab = await flex.lab({ preset: "tiny", seed: 5, backend: "cpu", train: { batchSize: 4 } });
  pub = await lab.publicModel({ from: "scratch" });
  await pub.train({ steps: 2 });
  const math = lab.owner("math", { from: pub, docs: 20 });
  await math.train({ steps: 1 });
  merged = (await flex.merge(pub, [math], { k: 2 })).named(HOSTILE);
});

/** Every text/html of the object's bundle, with the raw hostile markup nowhere in it. */
function assertEscaped(what: string, x: unknown, shown?: string): void {
  const html = toBundle(x)["text/html"];
  if (html === undefined) return; // text/plain only: nothing a browser executes
  for (const raw of ["<img src=x", "<script>", 'onerror="alert']) assert.ok(!html.includes(raw), `${what}: raw "${raw}" in text/html`);
  // Not vacuous: where the string is shown at all, it is shown escaped.
  if (shown) assert.ok(html.includes(shown), `${what}: expected the escaped text ${shown} in text/html`);
}

test("labels, prompts and attributed text reach the notebook's HTML escaped", async () => {
  const opts = { domains: ["math"], maxWindows: 1, batchSize: 1 };
  assertEscaped("the model", merged, "&lt;img src=x");
  assertEscaped("evaluate", await merged.evaluate(opts), "&lt;img src=x");
  assertEscaped("generate", await merged.generate(HOSTILE, { maxTokens: 2, seed: 1 }));
  assertEscaped("attribution", await merged.attribution(`x = 1 ${HOSTILE}`));
  const r = await inspect.routing(merged, opts);
  assertEscaped("routing by domain", r.byDomain());
  assertEscaped("opt-out matrix", await inspect.optOutMatrix(merged, opts));
  assertEscaped("compare", await flex.compare([pub.model().named(`public ${HOSTILE}`), merged], { domains: ["math"], maxWindows: 1 }));
});
