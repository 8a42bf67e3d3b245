/**
 * `flexolmo kernel install`: the kernel spec for npm users, written where each flag says, with
 * paths that exist, and found by Jupyter itself where Jupyter is installed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CLI, inProcess } from "./helpers";

const KERNEL = "flexolmo-lab";

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-kernel-cli-"));
}

/** kernel.json in `dir`, checked the way Jupyter will use it: argv runs this Node with our preload and tslab. */
function checkSpec(dir: string): void {
  const spec = JSON.parse(fs.readFileSync(path.join(dir, "kernel.json"), "utf8")) as { argv: string[]; display_name: string; interrupt_mode: string; language: string };
  assert.equal(spec.display_name, "FlexOlmo Lab (TypeScript)");
  assert.equal(spec.language, "typescript");
  assert.equal(spec.interrupt_mode, "signal");
  const [node, req, preload, tslab, ...rest] = spec.argv;
  assert.equal(node, process.execPath);
  assert.equal(req, "--require");
  assert.deepEqual(rest, ["kernel", "--config-path", "{connection_file}"]);
  assert.ok(preload.endsWith(path.join("dist", "kernel", "preload.js")) && fs.existsSync(preload), `${preload} is the built preload`);
  assert.ok(tslab.endsWith(path.join("tslab", "bin", "tslab")) && fs.existsSync(tslab), `${tslab} is tslab's entry point`);
  for (const f of ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"]) assert.ok(fs.statSync(path.join(dir, f)).size > 0, f);
}

test("kernel install --jupyter-path DIR writes DIR/kernels/flexolmo-lab and says how Jupyter finds it", async () => {
  const tmp = tmpDir();
  try {
    const r = await inProcess(["kernel", "install", "--jupyter-path", tmp]);
    assert.equal(r.code, 0, r.stderr);
    const dir = path.join(tmp, "kernels", KERNEL);
    checkSpec(dir);
    assert.match(r.stdout, new RegExp(`kernel spec in ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n`));
    assert.match(r.stdout, /JUPYTER_PATH includes/);
    // Installing again replaces the spec and leaves no temporary folders.
    assert.equal((await inProcess(["kernel", "install", "--jupyter-path", tmp])).code, 0);
    assert.deepEqual(fs.readdirSync(path.join(tmp, "kernels")), [KERNEL]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("kernel install --prefix DIR writes DIR/share/jupyter/kernels/flexolmo-lab", async () => {
  const tmp = tmpDir();
  try {
    const r = await inProcess(["kernel", "install", "--prefix", tmp]);
    assert.equal(r.code, 0, r.stderr);
    checkSpec(path.join(tmp, "share", "jupyter", "kernels", KERNEL));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("kernel install (default: this user) writes into Jupyter's data directory, from the installed bin", () => {
  const tmp = tmpDir();
  try {
    // A real process, as `npx flexolmo kernel install` runs it; JUPYTER_DATA_DIR stands in for ~/.local/share/jupyter.
    const r = spawnSync(process.execPath, [CLI, "kernel", "install"], { encoding: "utf8", env: { ...process.env, JUPYTER_DATA_DIR: tmp } });
    assert.equal(r.status, 0, r.stderr);
    checkSpec(path.join(tmp, "kernels", KERNEL));
    // Jupyter itself lists it, where Jupyter is installed (CI installs it for the notebook tests).
    const jupyter = spawnSync("jupyter", ["kernelspec", "list", "--json"], { encoding: "utf8", env: { ...process.env, JUPYTER_DATA_DIR: tmp } });
    if (jupyter.status === 0) {
      const specs = (JSON.parse(jupyter.stdout) as { kernelspecs: Record<string, { resource_dir: string }> }).kernelspecs;
      assert.equal(fs.realpathSync(specs[KERNEL].resource_dir), fs.realpathSync(path.join(tmp, "kernels", KERNEL)));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("kernel: a missing or unknown action, or two targets, is a usage error (exit 2) that writes nothing", async () => {
  const tmp = tmpDir();
  try {
    const missing = await inProcess(["kernel"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing ACTION/);
    const unknown = await inProcess(["kernel", "instal", "--jupyter-path", tmp]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown action "instal".*did you mean install\?/);
    const two = await inProcess(["kernel", "install", "--prefix", tmp, "--jupyter-path", tmp]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /choose one of --user, --prefix DIR, --jupyter-path DIR \(got --prefix and --jupyter-path\)/);
    assert.deepEqual(fs.readdirSync(tmp), []);
    const help = await inProcess(["kernel", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: flexolmo kernel ACTION \[flags\]/);
    assert.match(help.stdout, /--jupyter-path DIR/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
