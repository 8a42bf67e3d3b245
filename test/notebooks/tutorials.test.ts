/**
 * The tutorials, two ways:
 *
 *  1. as committed files (always): present, under 2 MB, stripped of volatile metadata, executed
 *     (at the `cpu` preset) with no error output, prose before code, rich outputs;
 *  2. executed headlessly through a real Jupyter client (nbclient, via kernel/run-notebook) at the
 *     `tiny` preset, in order, on COPIES in a temporary folder (the committed notebooks are never
 *     touched). A failing cell fails the test with nbclient's text: the cell's source and error.
 *
 * Part 2 needs Debian's python3-nbclient, jupyter-client; without them it is skipped with the
 * reason, unless FLEXOLMO_REQUIRE_JUPYTER=1 (CI) makes that a failure.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { installKernelSpec, KERNEL_NAME } from "../../kernel/install";
import type { NotebookCell } from "../../kernel/run-notebook";
import { checkJupyter, joinText, runNotebook } from "../../kernel/run-notebook";
import { MAX_NOTEBOOK_BYTES, NOTEBOOK_DIR, TUTORIALS, volatileFields } from "./notebook-files";

const PLOTLY = "application/vnd.plotly.v1+json";
const jupyter = checkJupyter();
const skip = jupyter.ok ? false : process.env.FLEXOLMO_REQUIRE_JUPYTER === "1" ? false : jupyter.reason;

interface Notebook {
  metadata: { kernelspec?: { name?: string }; language_info?: Record<string, unknown> };
  cells: NotebookCell[];
}

function read(name: string): Notebook {
  return JSON.parse(fs.readFileSync(path.join(NOTEBOOK_DIR, `${name}.ipynb`), "utf8")) as Notebook;
}

function richOutputs(nb: Notebook): { plotlyAndHtml: number; html: number } {
  let plotlyAndHtml = 0, html = 0;
  for (const c of nb.cells) {
    for (const o of c.outputs ?? []) {
      const d = o.data ?? {};
      if (PLOTLY in d && "text/html" in d) plotlyAndHtml++;
      if ("text/html" in d) html++;
    }
  }
  return { plotlyAndHtml, html };
}

function errorsOf(nb: Notebook): string[] {
  return nb.cells.flatMap((c, i) => (c.outputs ?? []).filter((o) => o.output_type === "error").map((o) => `cell ${i}: ${o.ename}: ${o.evalue}`));
}

describe("tutorials: the committed notebooks", () => {
  for (const name of TUTORIALS) {
    test(`${name}: committed, executed at the cpu preset, stripped, ≤ 2 MB`, () => {
      const file = path.join(NOTEBOOK_DIR, `${name}.ipynb`);
      assert.ok(fs.existsSync(file), `${file} is missing`);
      const size = fs.statSync(file).size;
      assert.ok(size <= MAX_NOTEBOOK_BYTES, `${name}.ipynb is ${size} bytes; the budget is ${MAX_NOTEBOOK_BYTES}`);
      const nb = read(name);
      assert.equal(nb.metadata.kernelspec?.name, KERNEL_NAME);
      assert.deepEqual(volatileFields(nb as never), [], "strip it: node dist/test/notebooks/notebook-files.js --strip notebooks/*.ipynb");
      assert.equal(nb.cells[0].cell_type, "markdown", "a tutorial opens with prose");
      assert.ok(nb.cells.filter((c) => c.cell_type === "markdown").length >= 3, "prose between the steps");
      const code = nb.cells.filter((c) => c.cell_type === "code");
      assert.ok(code.every((c) => typeof c.execution_count === "number"), "every code cell was executed");
      assert.deepEqual(errorsOf(nb), []);
      const setup = code[0].outputs!.map((o) => joinText(o.data?.["text/plain"] ?? o.text)).join("\n");
      assert.match(setup, /preset\s+cpu\b/, "outputs are committed at the cpu preset");
      assert.match(setup, /TF\.js backend:/, "the backend is printed");
      const last = joinText(code[code.length - 1].outputs?.[0]?.text);
      assert.match(last, /This notebook ran in [\d.]+ min at the "cpu" preset/);
      assert.ok(richOutputs(nb).plotlyAndHtml >= 1, "at least one plotly chart with its HTML fallback");
    });
  }
});

describe("tutorials: executed through nbclient at the tiny preset", { skip }, () => {
  let tmp: string;
  let jupyterPath: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-tutorials-"));
    jupyterPath = path.join(tmp, "jupyter");
    installKernelSpec({ kind: "jupyter-path", dir: jupyterPath });
    fs.mkdirSync(path.join(tmp, "notebooks"));
    fs.mkdirSync(path.join(tmp, "out"));
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const name of TUTORIALS) {
    test(`${name} runs headlessly and renders plotly + HTML`, async (t) => {
      const source = path.join(NOTEBOOK_DIR, `${name}.ipynb`);
      const copy = path.join(tmp, "notebooks", `${name}.ipynb`);
      fs.copyFileSync(source, copy);
      const before = fs.readFileSync(source);
      const run = await runNotebook(copy, {
        jupyterPath,
        output: path.join(tmp, "out", `${name}.ipynb`),
        timeout: 300,
        // Later notebooks reuse the models the earlier ones trained, as they do for a user.
        env: { FLEXOLMO_PRESET: "tiny", FLEXOLMO_RUNS: path.join(tmp, "runs") },
      });
      t.diagnostic(`${name}: ${run.seconds.toFixed(1)} s (kernel ready in ${run.kernelReadySeconds?.toFixed(1)} s)`);
      assert.equal(run.ok, true, run.error);
      const nb = run.notebook as unknown as Notebook;
      assert.deepEqual(errorsOf(nb), []);
      const rich = richOutputs(nb);
      assert.ok(rich.plotlyAndHtml >= 1, `${name}: no output carries both ${PLOTLY} and text/html`);
      const code = nb.cells.filter((c) => c.cell_type === "code");
      assert.match(code[0].outputs!.map((o) => joinText(o.data?.["text/plain"] ?? o.text)).join("\n"), /preset\s+tiny \(from FLEXOLMO_PRESET\)/);
      assert.match(joinText(code[code.length - 1].outputs?.[0]?.text), /ran in [\d.]+ min at the "tiny" preset/);
      assert.ok(fs.readFileSync(source).equals(before), "the committed notebook is untouched");
    });
  }
});
