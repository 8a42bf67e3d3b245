/**
 * End-to-end: the FlexOlmo Lab kernel driven by real Jupyter clients.
 *
 *  - a smoke notebook, written to a temp folder OUTSIDE the package, executed by nbclient
 *    (/usr/bin/python3) with the kernel found through JUPYTER_PATH; then its nbconvert HTML, and
 *    (when /usr/bin/chromium exists) that HTML laid out by a headless browser;
 *  - the execute protocol driven by jupyter_client directly: error replies, no silent aborts.
 *
 * Needs Debian's python3-nbclient, jupyter-client, jupyter-nbconvert. Without them the suite is
 * skipped with the reason, unless FLEXOLMO_REQUIRE_JUPYTER=1 (CI) makes that a failure.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { installKernelSpec, packageRoot } from "../../kernel/install";
import type { NotebookCell, NotebookOutput, NotebookRun } from "../../kernel/run-notebook";
import { checkJupyter, joinText, makeNotebook, pythonPath, runNotebook } from "../../kernel/run-notebook";
import { CHROMIUM, dumpDom } from "../display/chromium";

const jupyter = checkJupyter();
const skip = jupyter.ok ? false : process.env.FLEXOLMO_REQUIRE_JUPYTER === "1" ? false : jupyter.reason;
const hasIndex = fs.existsSync(path.join(packageRoot(), "dist", "lib", "index.d.ts"));

/** The smoke notebook. Indices are referred to by the tests below. */
const CELLS: (string | { source: string; metadata: Record<string, unknown> })[] = [
  /* 0 */ `console.log("cell 0 ran")`,
  /* 1 */ [
    `import { lineChart, LiveDisplay, kernelAbortSignal } from "flexolmo-lab/dist/lib/display";`,
    `import * as tf from "@tensorflow/tfjs-core";`,
    `tf.getBackend()`,
  ].join("\n"),
  // Two type errors that only exist if the types of BOTH packages were resolved (an unresolved
  // module would give "Cannot find module" instead, or `any` and no error at all).
  /* 2 */ [`const wrong1: number = tf.getBackend();`, `const wrong2: string = lineChart({ series: [{ name: "a", y: [1] }] }).layout.width;`].join("\n"),
  /* 3 */ `const fig = lineChart({ title: "smoke", series: [{ name: "loss", y: [3, 2, 1.5] }] });\nfig`,
  /* 4 */ `({ [Symbol.for("Jupyter.display")]() { return { "text/plain": "custom", "text/markdown": "**custom**" }; } })`,
  /* 5 */ `function failStep(): never {\n  throw new RangeError("step 3 went wrong");\n}\nfailStep();`,
  /* 6 */ `console.log("still alive", 40 + 2)`,
  /* 7 */ [
    `const live = new LiveDisplay({ minIntervalMs: 50 });`,
    `for (let i = 1; i <= 30; i++) {`,
    `  live.update(() => lineChart({ title: "live", series: [{ name: "loss", y: Array.from({ length: i }, (_, j) => 1 / (j + 1)) }] }));`,
    `  await new Promise((r) => setTimeout(r, 10));`,
    `}`,
    `live.done();`,
    `console.log("sends", live.sends);`,
  ].join("\n"),
  // nbclient interrupts (SIGINT) after 3 s; the loop holds the kernel signal, so it stops at a step boundary.
  /* 8 */ {
    source: [
      `const signal = kernelAbortSignal();`,
      `let steps = 0;`,
      `while (!signal.aborted && steps < 100_000) {`,
      `  steps++;`,
      `  await new Promise((r) => setTimeout(r, 5));`,
      `}`,
      `console.log("stopped after", steps, "steps:", (signal.reason as Error).name);`,
    ].join("\n"),
    metadata: { flexolmo: { timeout: 3 } },
  },
  /* 9 */ [
    `const before = steps;`,
    `await new Promise((r) => setTimeout(r, 100));`,
    `console.log("steps unchanged:", steps === before, "| fresh signal aborted:", kernelAbortSignal().aborted);`,
  ].join("\n"),
  // Nothing holds the signal here: the interrupt abandons the cell, as tslab does, with a clear error.
  /* 10 */ { source: `await new Promise(() => {});`, metadata: { flexolmo: { timeout: 2 } } },
  /* 11 */ `console.log("after interrupt ok")`,
  // The type error names the declaration file TypeScript resolved "flexolmo-lab" to.
  /* 12 */ hasIndex ? `import * as labTypes from "flexolmo-lab";\nconst wrong3: number = labTypes;` : `console.log("skipped")`,
  /* 13 */ hasIndex
    ? `import * as lab from "flexolmo-lab";\nconsole.log("bare import keys:", Object.keys(lab).length > 0)`
    : `console.log("bare import skipped: dist/lib/index.d.ts does not exist yet")`,
  // tslab's own display API still works next to ours.
  /* 14 */ `import * as tslab from "tslab";\ntslab.display.html("<b>tslab html</b>");`,
  // The library's own long verbs under a real interrupt (nbclient's SIGINT after the cell timeout):
  // training stops at a step boundary and keeps what it learned; the model stays usable.
  /* 15 */ hasIndex
    ? `import { flex } from "flexolmo-lab";\nconst lab = await flex.lab({ preset: "tiny", seed: 0 });\nconst pub = await lab.publicModel({ from: "scratch" });\nconsole.log("lab ready");`
    : `console.log("skipped")`,
  /* 16 */ hasIndex
    ? { source: `const rec = await pub.train({ steps: 100_000 });\nconsole.log("train stopped:", rec.aborted, "| some steps:", rec.steps > 0 && rec.steps < 100_000, "| step count kept:", pub.step === rec.step);`, metadata: { flexolmo: { timeout: 4 } } }
    : `console.log("skipped")`,
  /* 17 */ hasIndex
    ? `const ev = await pub.model().evaluate({ domains: ["math"], maxWindows: 1 });\nawait pub.train({ steps: 1 });\nconsole.log("usable after interrupt:", Number.isFinite(ev.ppl("math")), pub.step === rec.step + 1);`
    : `console.log("skipped")`,
];

function outputs(run: NotebookRun, i: number): NotebookOutput[] {
  return (run.notebook.cells[i] as NotebookCell).outputs ?? [];
}

function streamText(run: NotebookRun, i: number, name?: "stdout" | "stderr"): string {
  return outputs(run, i)
    .filter((o) => o.output_type === "stream" && (!name || o.name === name))
    .map((o) => joinText(o.text))
    .join("");
}

describe("kernel: smoke notebook through nbclient", { skip }, () => {
  let tmp: string;
  let run: NotebookRun;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-smoke-"));
    const jupyterPath = path.join(tmp, "jupyter");
    installKernelSpec({ kind: "jupyter-path", dir: jupyterPath });
    const nbDir = path.join(tmp, "notebooks"); // no node_modules anywhere above it
    fs.mkdirSync(nbDir);
    const nbPath = path.join(nbDir, "smoke.ipynb");
    fs.writeFileSync(nbPath, JSON.stringify(makeNotebook(CELLS), null, 1));
    run = await runNotebook(nbPath, {
      jupyterPath,
      output: path.join(tmp, "smoke.executed.ipynb"),
      html: path.join(tmp, "smoke.html"),
      allowErrors: true,
      interruptOnTimeout: true,
      timeout: 60,
    });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test("the run completes; kernel start-to-ready is measured", (t) => {
    assert.equal(run.ok, true, run.error);
    t.diagnostic(`notebook ${run.seconds.toFixed(1)} s, kernel start-to-ready ${run.kernelReadySeconds?.toFixed(2)} s`);
    assert.ok(run.kernelReadySeconds !== null && run.kernelReadySeconds > 0);
  });

  test("the first cell's output starts with the TF.js backend summary, printed once", () => {
    const first = streamText(run, 0);
    assert.match(first, /^FlexOlmo Lab kernel · TF.js backend: (tfjs-node-gpu|tfjs-node|wasm|cpu)/);
    assert.match(first, /cell 0 ran/);
    for (let i = 1; i < CELLS.length; i++) assert.doesNotMatch(streamText(run, i), /TF.js backend:/);
  });

  test("the notebook's @tensorflow/tfjs-core is the library's engine (same active backend)", () => {
    const backend = /TF.js backend: (\S+)/.exec(streamText(run, 0))![1];
    const tfName = { "tfjs-node-gpu": "tensorflow", "tfjs-node": "tensorflow", wasm: "wasm", cpu: "cpu" }[backend];
    assert.equal(streamText(run, 1).trim(), tfName);
  });

  test("types of flexolmo-lab and @tensorflow/tfjs-core resolve from a folder outside the package", () => {
    const [err] = outputs(run, 2);
    assert.equal(err.output_type, "error");
    assert.equal(err.ename, "TSError");
    const tb = (err.traceback ?? []).join("\n");
    assert.match(tb, /1:7 - Type 'string' is not assignable to type 'number'\./);
    assert.match(tb, /2:7 - Type 'number' is not assignable to type 'string'\./);
    assert.doesNotMatch(tb, /Cannot find module/);
  });

  test("a self-rendering last value is an execute_result with text/plain, plotly JSON and SVG HTML", () => {
    const outs = outputs(run, 3);
    assert.equal(outs.length, 1);
    const [o] = outs;
    assert.equal(o.output_type, "execute_result");
    const data = o.data!;
    assert.deepEqual(Object.keys(data).sort(), ["application/vnd.plotly.v1+json", "text/html", "text/plain"]);
    const plotly = data["application/vnd.plotly.v1+json"] as { data: { y: number[] }[]; layout: { title: { text: string } } };
    assert.deepEqual(plotly.data[0].y, [3, 2, 1.5]);
    assert.equal(plotly.layout.title.text, "smoke");
    assert.match(joinText(data["text/html"]), /<div class="flexolmo-figure"><svg/);
    assert.match(joinText(data["text/plain"]), /"smoke"/);
  });

  test("any Symbol.for('Jupyter.display') bundle passes through with all its MIME types", () => {
    const [o] = outputs(run, 4);
    assert.equal(o.output_type, "execute_result");
    // nbformat stores text payloads as lists of lines; join them back.
    const data = Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, joinText(v)]));
    assert.deepEqual(data, { "text/plain": "custom", "text/markdown": "**custom**" });
  });

  test("a runtime error gives ename, evalue and a traceback with the cell's frames; the next cell still runs", () => {
    const [err] = outputs(run, 5);
    assert.equal(err.output_type, "error");
    assert.equal(err.ename, "RangeError");
    assert.equal(err.evalue, "step 3 went wrong");
    const tb = (err.traceback ?? []).join("\n");
    assert.match(tb, /RangeError.*: step 3 went wrong/);
    assert.match(tb, /at failStep \(<cell>\)/);
    assert.doesNotMatch(tb, /node_modules[\\/]tslab|node:vm/);
    assert.equal(streamText(run, 6), "still alive 42\n");
  });

  test("LiveDisplay updates ONE output in place, rate-limited, ending at the final state", () => {
    const displays = outputs(run, 7).filter((o) => o.output_type === "display_data");
    assert.equal(displays.length, 1);
    const fig = displays[0].data!["application/vnd.plotly.v1+json"] as { data: { y: number[] }[] };
    assert.equal(fig.data[0].y.length, 30); // nbclient applied the update_display_data messages
    const sends = Number(/sends (\d+)/.exec(streamText(run, 7))![1]);
    assert.ok(sends >= 2 && sends < 30, `sends = ${sends}`);
  });

  test("an interrupt stops a loop that holds the kernel signal at a step boundary; state stays usable", () => {
    const out = streamText(run, 8, "stdout");
    assert.match(out, /stopped after \d+ steps: AbortError/);
    assert.equal(outputs(run, 8).filter((o) => o.output_type === "error").length, 0);
    assert.match(streamText(run, 8, "stderr"), /stopping at the next step boundary/);
    assert.equal(streamText(run, 9), "steps unchanged: true | fresh signal aborted: false\n");
  });

  test("an interrupt abandons a cell that does not hold the signal, with an 'Interrupted' error", () => {
    const [err] = outputs(run, 10).filter((o) => o.output_type === "error");
    assert.equal(err?.ename, "Interrupted");
    assert.equal(streamText(run, 11), "after interrupt ok\n");
  });

  test("bare `import ... from \"flexolmo-lab\"` works once dist/lib/index.d.ts exists", (t) => {
    if (!hasIndex) {
      t.skip("dist/lib/index.d.ts does not exist yet (lib/index.ts is written by the lead)");
      return;
    }
    const [err] = outputs(run, 12);
    assert.equal(err?.ename, "TSError");
    const indexDts = path.join(packageRoot(), "dist", "lib", "index").replace(/\\/g, "/");
    assert.ok(joinText(err.evalue).includes(`typeof import("${indexDts}")`), err.evalue);
    assert.equal(streamText(run, 13), "bare import keys: true\n");
  });

  test("an interrupt stops pub.train() at a step boundary; the model keeps its steps and trains on", (t) => {
    if (!hasIndex) {
      t.skip("dist/lib/index.d.ts does not exist yet");
      return;
    }
    assert.equal(streamText(run, 15, "stdout"), "lab ready\n");
    assert.equal(outputs(run, 16).filter((o) => o.output_type === "error").length, 0, "no error: the interrupt is a clean stop");
    assert.match(streamText(run, 16, "stdout"), /train stopped: true \| some steps: true \| step count kept: true/);
    assert.equal(streamText(run, 17, "stdout"), "usable after interrupt: true true\n");
  });

  test("tslab's own display API is untouched", () => {
    const [o] = outputs(run, 14);
    assert.equal(o?.output_type, "display_data");
    assert.equal(joinText(o.data!["text/html"]), "<b>tslab html</b>");
  });

  test("nbconvert HTML shows the chart as inline SVG, offline (no plotly.js)", () => {
    const html = fs.readFileSync(run.html!, "utf8");
    assert.ok((html.match(/class="flexolmo-figure"><svg/g) ?? []).length >= 2, "both charts (cells 3 and 7) render as SVG");
    assert.match(html, /<strong>custom<\/strong>/);
    assert.match(html, /step 3 went wrong/);
    assert.doesNotMatch(html, /cdn\.plot\.ly|plotly(-latest)?(\.min)?\.js/);
  });

  test("headless Chromium lays out the SVG charts of the nbconvert HTML", { skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed` }, () => {
    // Measure in the page itself: the SVGs must be real SVG elements with a non-zero size and their marks.
    const probe = `<pre id="flexolmo-check"></pre><script>
      const info = [...document.querySelectorAll(".flexolmo-figure > svg")].map((s) => {
        const r = s.getBoundingClientRect();
        return { ns: s.namespaceURI, w: Math.round(r.width), h: Math.round(r.height), paths: s.querySelectorAll("path").length };
      });
      document.getElementById("flexolmo-check").textContent = JSON.stringify(info);
    </script>`;
    const page = path.join(tmp, "probe.html");
    fs.writeFileSync(page, fs.readFileSync(run.html!, "utf8").replace("</body>", `${probe}</body>`));
    const dom = dumpDom(page, path.join(tmp, "chromium-profile"), { timeoutMs: 60_000 });
    const m = /<pre id="flexolmo-check">([^<]*)<\/pre>/.exec(dom);
    assert.ok(m, "probe ran");
    const info = JSON.parse(m[1].replace(/&quot;/g, '"')) as { ns: string; w: number; h: number; paths: number }[];
    assert.ok(info.length >= 2, JSON.stringify(info));
    for (const s of info) {
      assert.equal(s.ns, "http://www.w3.org/2000/svg");
      assert.ok(s.w > 100 && s.h > 100, JSON.stringify(s));
      assert.ok(s.paths >= 1, "the line is drawn");
    }
  });
});

describe("kernel: run-notebook CLI", { skip }, () => {
  test("a failing cell stops the run; the CLI exits 1 and prints the cell's error", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-cli-"));
    try {
      const nb = path.join(tmp, "bad.ipynb");
      fs.writeFileSync(nb, JSON.stringify(makeNotebook([`console.log("one")`, `throw new RangeError("bad step")`, `console.log("never")`])));
      const out = path.join(tmp, "out");
      const r = spawnSync(process.execPath, [path.join(packageRoot(), "dist", "kernel", "run-notebook.js"), "--timeout", "60", "--out", out, nb], {
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /^FAILED .*bad\.ipynb after [\d.]+ s/);
      assert.match(r.stderr, /RangeError/);
      assert.match(r.stderr, /bad step/);
      assert.match(r.stderr, /throw new RangeError\("bad step"\)/); // nbclient shows the failing cell's source
      const executed = JSON.parse(fs.readFileSync(path.join(out, "bad.ipynb"), "utf8")) as { cells: NotebookCell[] };
      assert.equal(executed.cells[2].outputs?.length ?? 0, 0); // nothing ran after the error
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

// The execute protocol itself, through jupyter_client: what nbclient cannot show.
const PROTOCOL_PY = String.raw`
import json, sys, time, queue
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name="flexolmo-lab")
t0 = time.monotonic()
km.start_kernel(cwd=sys.argv[1])
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)
ready = time.monotonic() - t0
ids = {}
ids["a"] = kc.execute("throw new TypeError('first')")
def reply(mid):
    while True:
        m = kc.get_shell_msg(timeout=60)
        if m["parent_header"].get("msg_id") == mid:
            return m["content"]
replies = {"a": reply(ids["a"])}
# tslab 1.0.22 aborts any request arriving within 200 ms after an error; this one arrives at once.
ids["b"] = kc.execute("40 + 2")
replies["b"] = reply(ids["b"])
# c fails while d is already queued: with stop_on_error (the default) d is aborted, and says so.
ids["c"] = kc.execute("await new Promise((r) => setTimeout(r, 300)); throw new Error('c')")
ids["d"] = kc.execute("console.log('d ran')")
replies["c"] = reply(ids["c"]); replies["d"] = reply(ids["d"])
# e fails with stop_on_error=False: f, queued behind it, runs.
ids["e"] = kc.execute("await new Promise((r) => setTimeout(r, 300)); throw new Error('e')", stop_on_error=False)
ids["f"] = kc.execute("console.log('f ran')")
replies["e"] = reply(ids["e"]); replies["f"] = reply(ids["f"])
iopub = {}
deadline = time.monotonic() + 3
while time.monotonic() < deadline:
    try:
        m = kc.get_iopub_msg(timeout=0.5)
    except queue.Empty:
        break
    iopub.setdefault(m["parent_header"].get("msg_id"), []).append({"type": m["msg_type"], "content": m["content"]})
kc.stop_channels()
km.shutdown_kernel(now=True)
print(json.dumps({"ready": ready, "replies": replies, "iopub": {k: iopub.get(v, []) for k, v in ids.items()}}))
`;

describe("kernel: execute protocol through jupyter_client", { skip }, () => {
  test("error replies carry ename/evalue/traceback; later requests are not silently aborted", async (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-proto-"));
    try {
      const jupyterPath = path.join(tmp, "jupyter");
      installKernelSpec({ kind: "jupyter-path", dir: jupyterPath });
      const env = { ...process.env, JUPYTER_PATH: jupyterPath, JUPYTER_RUNTIME_DIR: path.join(tmp, "rt"), JUPYTER_PLATFORM_DIRS: "1" };
      const { code, out, err } = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn(pythonPath(), ["-c", PROTOCOL_PY, tmp], { env });
        let o = "";
        let e = "";
        p.stdout.on("data", (d: Buffer) => (o += d));
        p.stderr.on("data", (d: Buffer) => (e += d));
        p.on("error", (x) => resolve({ code: null, out: o, err: `could not start ${pythonPath()}: ${x.message}` }));
        p.on("close", (c) => resolve({ code: c, out: o, err: e }));
      });
      assert.equal(code, 0, err);
      type Msg = { type: string; content: Record<string, unknown> };
      const r = JSON.parse(out.trim().split("\n").pop()!) as { ready: number; replies: Record<string, Record<string, unknown>>; iopub: Record<string, Msg[]> };
      t.diagnostic(`kernel start-to-ready (jupyter_client) ${r.ready.toFixed(2)} s`);

      assert.equal(r.replies.a.status, "error");
      assert.equal(r.replies.a.ename, "TypeError");
      assert.equal(r.replies.a.evalue, "first");
      assert.ok(Array.isArray(r.replies.a.traceback) && (r.replies.a.traceback as string[]).length >= 1);
      const errMsg = r.iopub.a.find((m) => m.type === "error");
      assert.equal(errMsg?.content.ename, "TypeError");
      assert.ok(r.iopub.a.some((m) => m.type === "execute_input"));

      assert.equal(r.replies.b.status, "ok");
      assert.equal(r.iopub.b.find((m) => m.type === "stream")?.content.text, "42\n");

      assert.equal(r.replies.c.status, "error");
      assert.equal(r.replies.d.status, "aborted");
      assert.match(String(r.iopub.d.find((m) => m.type === "stream")?.content.text), /not run: an earlier cell failed/);

      assert.equal(r.replies.e.status, "error");
      assert.equal(r.replies.f.status, "ok");
      assert.equal(r.iopub.f.find((m) => m.type === "stream")?.content.text, "f ran\n");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
