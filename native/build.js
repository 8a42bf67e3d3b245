#!/usr/bin/env node
/*
 * Builds native/build/flexolmo_blas.node (see blas.c) with the system C compiler. Run by
 * `npm install` (the package's "install" script) and by hand with `node native/build.js`.
 *
 * It never fails the install: without a compiler or Node's headers the project still works on the
 * wasm backend alone, a little slower. It writes native/build/status.json saying what happened, so
 * the backend report can tell the user why the native matmul is off and what to install.
 * Nothing here needs the network: the BLAS itself is loaded at run time (dlopen), not linked.
 */
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const here = __dirname;
const outDir = path.join(here, "build");
const target = path.join(outDir, "flexolmo_blas.node");

function headerDirs() {
  const dirs = [];
  if (process.env.npm_config_nodedir) dirs.push(path.join(process.env.npm_config_nodedir, "include", "node"));
  // Official Node tarballs and most packages install the headers next to the binary's prefix.
  dirs.push(path.resolve(path.dirname(process.execPath), "..", "include", "node"));
  dirs.push("/usr/include/node", "/usr/local/include/node");
  return dirs.filter((d, i) => dirs.indexOf(d) === i);
}

function writeStatus(status) {
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = path.join(outDir, `status.json.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify({ ...status, node: process.version, date: new Date().toISOString() }, null, 2) + "\n");
  fs.renameSync(tmp, path.join(outDir, "status.json"));
}

function main() {
  if (process.env.FLEXOLMO_NO_NATIVE === "1") {
    writeStatus({ built: false, reason: "FLEXOLMO_NO_NATIVE=1 was set at install time" });
    console.log("flexolmo-lab: native matmul not built (FLEXOLMO_NO_NATIVE=1)");
    return;
  }
  const inc = headerDirs().find((d) => fs.existsSync(path.join(d, "node_api.h")));
  if (!inc) {
    const reason = `Node's C headers (node_api.h) were not found in ${headerDirs().join(", ")}; set npm_config_nodedir to your Node install prefix and run \`node native/build.js\``;
    writeStatus({ built: false, reason });
    console.log(`flexolmo-lab: native matmul not built: ${reason}`);
    return;
  }
  const cc = process.env.CC || "cc";
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  // -O2 is plenty: this file only forwards to the BLAS. No -march: the BLAS picks its own kernels.
  const args = ["-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-DNODE_GYP_MODULE_NAME=flexolmo_blas", `-I${inc}`, path.join(here, "blas.c"), "-o", tmp, "-ldl"];
  const r = spawnSync(cc, args, { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    const why = r.error ? `${cc} could not run (${r.error.code || r.error.message}); install a C compiler (Debian: apt-get install gcc libc6-dev)` : `${cc} failed: ${(r.stderr || "").trim().split("\n").slice(-3).join(" | ")}`;
    try { fs.rmSync(tmp, { force: true }); } catch { /* nothing to clean */ }
    writeStatus({ built: false, reason: why });
    console.log(`flexolmo-lab: native matmul not built: ${why}`);
    return;
  }
  fs.renameSync(tmp, target); // atomic: a half-written addon is never loaded
  writeStatus({ built: true, compiler: cc, headers: inc });
  console.log(`flexolmo-lab: built ${path.relative(process.cwd(), target)} (the BLAS is loaded at run time: Debian/Ubuntu apt-get install libopenblas0)`);
}

main();
