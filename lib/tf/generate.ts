/**
 * Generates lib/tf/core-registrations.generated.ts from the installed @tensorflow/tfjs-core.
 *
 *     node dist/lib/tf/generate.js          # rewrite the file (after upgrading tfjs-core)
 *     node dist/lib/tf/generate.js --check  # exit 1 if the committed file is stale
 *
 * Why this exists: tfjs-core's CommonJS build (dist/tf-core.node.js, what `require` loads) registers
 * neither the gradients of its ops nor the chained tensor methods (`x.reshape(…)`, `x.add(…)`). The
 * umbrella package @tensorflow/tfjs bundles both from tfjs-core's ES-module files
 * (dist/register_all_gradients.js, dist/public/chained_ops/register_all_chained_ops.js), which Node
 * cannot `require` (extension-less relative imports). Without the umbrella, training would stop at
 * "gradient function not found for kernel Add", so we translate those same ES-module files into one
 * CommonJS-compatible module: every import becomes a lookup on the public tfjs-core API (the same
 * functions the ES modules would have imported), and the few helpers that are not public (the
 * backprop ops of conv/pool gradients, `convertToTensor`, …) are copied in as small scoped modules.
 * The gradient code itself is tfjs-core's, unchanged, so the numbers are those of the umbrella.
 *
 * Each import binding is checked against the real tfjs-core while generating: a binding that maps
 * to nothing stops the generator with the module and name, instead of failing at training time.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Where a module's bindings come from, by module id (path under tfjs-core/dist without ".js"). */
const NAMESPACES: Record<string, string> = {
  kernel_names: "tf",
  "ops/ops": "tf",
  "ops/operation": "tf",
  environment: "tf",
  util: "tf.util",
  util_base: "tf.util",
  "ops/broadcast_util": "tf.broadcast_util",
  "ops/axis_util": "tf.backend_util",
  "ops/selu_util": "tf.backend_util",
  "ops/conv_util": "tf.backend_util",
  "ops/slice_util": "tf.slice_util",
  "ops/image/resize_bilinear": "tf.image",
  "ops/image/resize_nearest_neighbor": "tf.image",
};

/** Bindings that are values computed from the public API rather than properties of it. */
const SPECIAL: Record<string, Record<string, string>> = {
  // The engine is a process-wide singleton (global `_tfengine`); tf.engine() returns it.
  engine: { ENGINE: "tf.engine()" },
  // tfjs keeps the first-loaded Tensor class in its global map; chained methods must go on that one.
  tensor: { getGlobalTensorClass: "__getGlobalTensorClass", Tensor: "tf.Tensor" },
};

interface ModuleOut {
  id: string;
  /** Identifier of the scoped module object in the generated code. */
  ref: string;
  exports: string[];
}

type TfLike = Record<string, unknown>;

function lookup(tf: TfLike, expr: string): unknown {
  if (expr === "tf.engine()") return (tf.engine as () => unknown)();
  if (expr === "__getGlobalTensorClass") return tf.Tensor;
  const parts = expr.split(".");
  if (parts[0] !== "tf") throw new Error(`internal: bad expression ${expr}`);
  let v: unknown = tf;
  for (const p of parts.slice(1)) v = v == null ? undefined : (v as Record<string, unknown>)[p];
  return v;
}

const IMPORT_NAMED = /^import \{([^}]*)\} from '([^']+)';\s*$/;
const IMPORT_NS = /^import \* as (\w+) from '([^']+)';\s*$/;
const IMPORT_BARE = /^import '([^']+)';\s*$/;

class Generator {
  private readonly dist: string;
  private readonly tf: TfLike;
  private readonly done = new Map<string, ModuleOut>();
  private readonly pending = new Set<string>();
  private readonly chunks: string[] = [];
  private counter = 0;

  constructor(coreDir: string) {
    this.dist = path.join(coreDir, "dist");
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    this.tf = require(coreDir) as TfLike;
  }

  private source(id: string): string {
    const file = path.join(this.dist, `${id}.js`);
    if (!fs.existsSync(file)) throw new Error(`tfjs-core has no ${path.relative(this.dist, file)} (imported while generating); is @tensorflow/tfjs-core 4.x installed?`);
    return fs.readFileSync(file, "utf8");
  }

  private resolveId(fromId: string, spec: string): string {
    if (!spec.startsWith(".")) throw new Error(`${fromId}.js imports the package "${spec}"; only relative imports inside tfjs-core can be translated`);
    return path.posix.normalize(path.posix.join(path.posix.dirname(fromId), spec));
  }

  /** The expression a binding `name` of module `id` becomes, or undefined when the module must be copied in. */
  private bindingExpr(id: string, name: string): string | undefined {
    const special = SPECIAL[id]?.[name];
    if (special) return special;
    const ns = NAMESPACES[id];
    if (ns) {
      const expr = `${ns}.${name}`;
      if (lookup(this.tf, expr) === undefined) throw new Error(`tfjs-core's ${id}.js export "${name}" is not at ${expr} in the public API; extend NAMESPACES in lib/tf/generate.ts`);
      return expr;
    }
    // Gradient files are always copied (they are what we generate); elsewhere a public export of the
    // same name is the function the module would have imported (tfjs-core re-exports its ops by name).
    if (!id.startsWith("gradients/") && lookup(this.tf, `tf.${name}`) !== undefined) return `tf.${name}`;
    return undefined;
  }

  /** Copy module `id` in (once) as a scoped module object; returns it. */
  module(id: string): ModuleOut {
    const have = this.done.get(id);
    if (have) return have;
    if (this.pending.has(id)) throw new Error(`${id}.js is part of an import cycle, which the generator does not translate`);
    this.pending.add(id);
    const lines = this.source(id).split("\n");
    const bindings: string[] = [];
    const body: string[] = [];
    const exports: string[] = [];
    for (const line of lines) {
      if (line.startsWith("//# sourceMappingURL=")) continue;
      let m = IMPORT_NAMED.exec(line);
      if (m) {
        const from = this.resolveId(id, m[2]);
        for (const part of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
          const [name, local = name] = part.split(/\s+as\s+/);
          let expr = this.bindingExpr(from, name);
          if (expr === undefined) {
            const mod = this.module(from);
            if (!mod.exports.includes(name)) throw new Error(`${id}.js imports "${name}" from ${from}.js, which does not export it`);
            expr = `${mod.ref}.${name}`;
          }
          bindings.push(`const ${local} = ${expr};`);
        }
        continue;
      }
      m = IMPORT_NS.exec(line);
      if (m) {
        const from = this.resolveId(id, m[2]);
        const ns = NAMESPACES[from];
        bindings.push(`const ${m[1]} = ${ns ?? this.module(from).ref};`);
        if (ns) this.checkNamespaceUses(id, lines.join("\n"), m[1], ns);
        continue;
      }
      m = IMPORT_BARE.exec(line);
      if (m) {
        this.module(this.resolveId(id, m[1])); // side effects only (chained ops)
        continue;
      }
      // Any other import/export form (re-exports, default exports, multi-line imports) is not
      // translated: stop rather than emit a module with a dangling name.
      const ex = /^export (?:const|let|var|function|class) (\w+)/.exec(line);
      if (/^\s*(import|export)\b/.test(line) && !ex) throw new Error(`${id}.js: cannot translate "${line.trim()}"`);
      if (ex) exports.push(ex[1]);
      body.push(line.replace(/^export (const|let|var|function|class) /, "$1 "));
    }
    const ref = `__m${this.counter++}`;
    const out: ModuleOut = { id, ref, exports };
    const text = body.join("\n").replace(/\/\*\*\n \* @license[\s\S]*?\*\/\n/, "").trim();
    this.chunks.push(
      `// ${id}.js\nconst ${ref} = (() => {\n${[...bindings, text].join("\n").replace(/^/gm, "  ").replace(/^\s+$/gm, "")}\n  return { ${exports.join(", ")} };\n})();`,
    );
    this.done.set(id, out);
    return out;
  }

  /** `util.parseAxisParam(…)` in a module that did `import * as util`: every member used must exist. */
  private checkNamespaceUses(id: string, text: string, local: string, ns: string): void {
    for (const m of text.matchAll(new RegExp(`\\b${local}\\.(\\w+)`, "g"))) {
      if (lookup(this.tf, `${ns}.${m[1]}`) === undefined) throw new Error(`${id}.js uses ${local}.${m[1]}, which is not at ${ns}.${m[1]}; extend NAMESPACES in lib/tf/generate.ts`);
    }
  }

  /** The gradient configs registered by register_all_gradients.js, in its order. */
  gradientConfigs(): string[] {
    const src = this.source("register_all_gradients");
    const refs = new Map<string, string>();
    for (const m of src.matchAll(/^import \{ (\w+) \} from '(\.\/gradients\/\w+)';$/gm)) refs.set(m[1], `${this.module(this.resolveId("register_all_gradients", m[2])).ref}.${m[1]}`);
    const list = /const gradConfigs = \[([\s\S]*?)\];/.exec(src);
    if (!list) throw new Error("register_all_gradients.js: the gradConfigs list was not found");
    return list[1]
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((name) => {
        const ref = refs.get(name);
        if (!ref) throw new Error(`register_all_gradients.js lists ${name} without importing it`);
        return ref;
      });
  }

  render(version: string): string {
    const configs = this.gradientConfigs();
    this.module("public/chained_ops/register_all_chained_ops");
    return `// @ts-nocheck
/* eslint-disable */
/**
 * GENERATED by lib/tf/generate.ts from @tensorflow/tfjs-core ${version}: do not edit; regenerate with
 * \`node dist/lib/tf/generate.js\` after changing the tfjs-core version (a test fails while it is stale).
 *
 * tfjs-core's own gradient functions (dist/register_all_gradients.js) and chained tensor methods
 * (dist/public/chained_ops/*.js), which its CommonJS build does not register, with their imports
 * turned into lookups on the public tfjs-core API. See lib/tf/generate.ts for why.
 *
 * Copyright 2017-2024 Google LLC. Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License. You may obtain a copy of the
 * License at http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or agreed
 * to in writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */
import type * as tfc from "@tensorflow/tfjs-core";

/** Number of gradient configs registered (tfjs-core's list, duplicates included). */
export const GRADIENT_CONFIG_COUNT = ${configs.length};

/** Register tfjs-core's gradients and chained tensor methods on the engine \`tf\` belongs to. */
export function registerCoreGradientsAndChainedOps(tf: typeof tfc): void {
const __getGlobalTensorClass = () => {
  const g = (globalThis as { _tfGlobals?: Map<string, unknown> })._tfGlobals;
  return (g && g.get("Tensor")) || tf.Tensor;
};
${this.chunks.join("\n")}
for (const config of [
${configs.map((c) => `  ${c},`).join("\n")}
]) tf.registerGradient(config);
}
`;
  }
}

/** The generated module's text for the tfjs-core installed at `coreDir`. */
export function generateCoreRegistrations(coreDir = path.dirname(require.resolve("@tensorflow/tfjs-core/package.json"))): string {
  const version = (JSON.parse(fs.readFileSync(path.join(coreDir, "package.json"), "utf8")) as { version: string }).version;
  return new Generator(coreDir).render(version);
}

/** The committed file, relative to the package root. */
export const GENERATED_PATH = path.join("lib", "tf", "core-registrations.generated.ts");

function main(): void {
  // dist/lib/tf/generate.js → the package root is three levels up.
  const root = path.resolve(__dirname, "..", "..", "..");
  const target = path.join(root, GENERATED_PATH);
  const text = generateCoreRegistrations();
  if (process.argv.includes("--check")) {
    const current = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
    if (current !== text) {
      console.error(`${GENERATED_PATH} is stale for the installed tfjs-core: run node dist/lib/tf/generate.js and commit the result.`);
      process.exitCode = 1;
    } else console.log(`${GENERATED_PATH} is up to date.`);
    return;
  }
  fs.writeFileSync(target, text);
  console.log(`wrote ${GENERATED_PATH} (${text.split("\n").length} lines)`);
}

if (require.main === module) main();
