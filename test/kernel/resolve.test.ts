import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { forwardPath, forwardRequest, installTypeForwarding } from "../../kernel/resolve";
import type { TsSys } from "../../kernel/resolve";

const FWD = [
  { name: "flexolmo-lab", target: "/opt/lab" },
  { name: "@tensorflow/tfjs-core", target: "/opt/lab/node_modules/@tensorflow/tfjs-core" },
];

test("forwardPath maps <any dir>/node_modules/<name>/<rest> to <target>/<rest>, and nothing else", () => {
  assert.equal(forwardPath("/home/u/nb/node_modules/flexolmo-lab/package.json", FWD), "/opt/lab/package.json");
  assert.equal(forwardPath("/home/u/nb/node_modules/flexolmo-lab", FWD), "/opt/lab");
  assert.equal(forwardPath("C:\\nb\\node_modules\\flexolmo-lab\\dist\\lib\\index.d.ts", FWD), "/opt/lab/dist/lib/index.d.ts");
  assert.equal(forwardPath("/nb/node_modules/@tensorflow/tfjs-core/dist/index.d.ts", FWD), "/opt/lab/node_modules/@tensorflow/tfjs-core/dist/index.d.ts");
  // Prefix look-alikes are different packages.
  assert.equal(forwardPath("/nb/node_modules/flexolmo-lab-extras/index.d.ts", FWD), undefined);
  assert.equal(forwardPath("/nb/node_modules/@tensorflow/tfjs-core-extras/package.json", FWD), undefined);
  assert.equal(forwardPath("/nb/node_modules/@tensorflow/tfjs/package.json", FWD), undefined);
  assert.equal(forwardPath("/nb/flexolmo-lab/index.d.ts", FWD), undefined);
});

test("forwardRequest rewrites bare and sub-path requests only", () => {
  assert.equal(forwardRequest("flexolmo-lab", FWD), "/opt/lab");
  assert.equal(forwardRequest("flexolmo-lab/dist/lib/display", FWD), path.join("/opt/lab", "dist/lib/display"));
  assert.equal(forwardRequest("@tensorflow/tfjs-core", FWD), "/opt/lab/node_modules/@tensorflow/tfjs-core");
  assert.equal(forwardRequest("@tensorflow/tfjs-core-extras", FWD), undefined);
  assert.equal(forwardRequest("@tensorflow/tfjs", FWD), undefined);
  assert.equal(forwardRequest("./flexolmo-lab", FWD), undefined);
});

test("installTypeForwarding: a sys that knows only the real package sees it under any node_modules", () => {
  // A real package on disk, and a "notebook folder" without node_modules.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-resolve-"));
  const pkg = path.join(root, "pkg");
  fs.mkdirSync(path.join(pkg, "dist"), { recursive: true });
  fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "flexolmo-lab", types: "dist/index.d.ts" }));
  fs.writeFileSync(path.join(pkg, "dist", "index.d.ts"), "export declare const x: number;\n");
  const realFs: TsSys = {
    fileExists: (p) => fs.existsSync(p) && fs.statSync(p).isFile(),
    directoryExists: (p) => fs.existsSync(p) && fs.statSync(p).isDirectory(),
    readFile: (p) => (fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined),
    realpath: (p) => (fs.existsSync(p) ? fs.realpathSync(p) : p),
  };
  const sys = { ...realFs };
  installTypeForwarding(sys, [{ name: "flexolmo-lab", target: pkg }]);
  const virtual = path.join(root, "notebooks", "node_modules", "flexolmo-lab");
  assert.equal(realFs.fileExists(path.join(virtual, "package.json")), false);
  assert.equal(sys.fileExists(path.join(virtual, "package.json")), true);
  assert.equal(sys.directoryExists(path.join(virtual, "dist")), true);
  assert.match(sys.readFile(path.join(virtual, "dist", "index.d.ts")) ?? "", /declare const x: number/);
  // realpath hands TypeScript the real file, so relative imports inside it resolve on disk.
  assert.equal(sys.realpath!(path.join(virtual, "dist", "index.d.ts")), fs.realpathSync(path.join(pkg, "dist", "index.d.ts")));
  // Everything else passes through untouched.
  assert.equal(sys.fileExists(path.join(root, "nope.ts")), false);
  fs.rmSync(root, { recursive: true, force: true });
});
