/**
 * The package as npm users get it: what `require("flexolmo-lab")` loads, and what the tarball
 * (package.json `files`) holds: everything the package reads at run time, nothing of the tests,
 * results or sources.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { packageRoot } from "../lib/util/package";

const ROOT = packageRoot();

test("require('flexolmo-lab') loads tfjs-core and the cpu backend, not Arrow, the TF.js umbrella or the Rust tokenizer", () => {
  const script = `require(${JSON.stringify(path.join(ROOT, "dist", "lib", "index.js"))});process.stdout.write(JSON.stringify(Object.keys(require.cache)))`;
  const loaded = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" })) as string[];
  const packages = new Set(loaded.map((f) => /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(f)?.[1]?.replace(/\\/g, "/")).filter((p): p is string => !!p));
  for (const heavy of ["apache-arrow", "@tensorflow/tfjs", "@tensorflow/tfjs-layers", "@tensorflow/tfjs-backend-webgl", "tokenizers", "@huggingface/tokenizers", "@tensorflow/tfjs-backend-wasm", "webgpu"]) {
    assert.ok(!packages.has(heavy), `${heavy} is loaded by require("flexolmo-lab")`);
  }
  assert.ok(packages.has("@tensorflow/tfjs-core") && packages.has("@tensorflow/tfjs-backend-cpu"), [...packages].join(", "));
});

test("the tarball has what the package reads at run time and no tests, results or sources", () => {
  // --ignore-scripts: prepack would rebuild dist/ (the test suite has just built it).
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
  const need = [
    "package.json",
    "README.md",
    "LICENSE",
    "dist/lib/index.js",
    "dist/lib/index.d.ts",
    "dist/lib/cli/main.js", // "bin"
    "dist/lib/tf/core-registrations.generated.js",
    "dist/kernel/preload.js", // kernel.json points here
    "dist/kernel/install.js",
    "native/build.js", // the "install" script
    "native/blas.c",
    "data/flexmix-mini/manifest.json", // lib/data/corpus.ts
    "data/flexmix-mini/tokenizer.json", // lib/data/tokenizer.ts
    "data/public-cpu/config.json", // lib/flex/shipped.ts
    "data/public-cpu/model.safetensors",
    "notebooks/01-quickstart.ipynb",
    "notebooks/figures/flexolmo-architecture.svg", // notebook 01's architecture picture
  ];
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "data", "flexmix-mini", "manifest.json"), "utf8")) as { dataFile: string };
  need.push(`data/flexmix-mini/${manifest.dataFile}`);
  for (const f of need) assert.ok(files.has(f), `${f} is missing from the tarball`);
  // Every command module the CLI discovers at run time (lib/cli/registry.ts reads the folder).
  for (const f of fs.readdirSync(path.join(ROOT, "dist", "lib", "cli", "commands")).filter((f) => f.endsWith(".js"))) {
    assert.ok(files.has(`dist/lib/cli/commands/${f}`), `dist/lib/cli/commands/${f} is missing from the tarball`);
  }
  const unwanted = [...files].filter((f) => /^(dist\/(test|bench|data)\/|test\/|results\/|bench\/|lib\/|kernel\/.*\.ts$|data\/build\/|docs\/figures\/|runs\/)|\.map$/.test(f));
  assert.deepEqual(unwanted, []);
});
