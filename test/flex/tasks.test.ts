import { test, before } from "node:test";
import assert from "node:assert/strict";
import { flex, Lab, PublicModel } from "../../lib/flex";
import { clozeItems, mathItems, parseWorksheet } from "../../lib/flex/tasks";

let lab: Lab;
let pub: PublicModel;
before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 2, backend: "cpu" });
  pub = await lab.publicModel();
});

test("worksheets parse into question/answer pairs", () => {
  const text = "Exercises 1: sums\n\nQ1. What is 2 + 3?\nAnswer: 2 + 3 = 5.\n\nQ2. What is 4 + 4?\nIt is easy.\nAnswer: 8.\n";
  assert.deepEqual(parseWorksheet(text), [
    { question: "Q1. What is 2 + 3?", answer: "2 + 3 = 5." },
    { question: "Q2. What is 4 + 4?\nIt is easy.", answer: "8." },
  ]);
});

test("cloze items: the true span is the document's own continuation, in a rotating position", () => {
  const items = clozeItems(lab.data, "code", { n: 8, context: 20, span: 6, choices: 4 });
  assert.equal(items.length, 8);
  items.forEach((it, i) => {
    assert.equal(it.answer, i % 4);
    assert.equal(it.context.length, 20);
    assert.ok(it.options.every((o) => o.length === 6));
  });
  assert.notDeepEqual(items[0].options[items[0].answer], items[0].options[(items[0].answer + 1) % 4]);
  assert.throws(() => clozeItems(lab.data, "cooking"), /Unknown domain/);
});

test("math items keep the held-out family apart", () => {
  const seen = mathItems(lab.data, false, { n: 6 });
  const held = mathItems(lab.data, true, { n: 6 });
  assert.ok(seen.length > 0 && held.length > 0);
  const dec = (ids: number[]) => lab.data.tokenizer.decode(ids);
  assert.ok(held.every((it) => /km|h\b|speed|hour|minute/i.test(dec(it.context) + dec(it.options[it.answer]))), "held-out items are distance-rate-time problems");
});

test("task scores are deterministic and bounded; chance is 1/choices", async () => {
  const a = await flex.tasks(pub.model(), { domains: ["code", "math"], n: 6 });
  const b = await flex.tasks(pub.model(), { domains: ["code", "math"], n: 6 });
  assert.deepEqual(a.toJSON().valueOf(), { ...b.toJSON(), seconds: (a.toJSON() as { seconds: number }).seconds });
  for (const s of a.scores) {
    assert.ok(s.accuracy >= 0 && s.accuracy <= 1);
    assert.equal(s.chance, 0.25);
    assert.equal(s.correct, Math.round(s.accuracy * s.items));
  }
  assert.match(a.toString(), /cloze:code/);
});
