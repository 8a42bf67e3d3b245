/**
 * `import { flex } from "flexolmo-lab"` from ANY notebook folder, with types.
 *
 * A notebook usually lives outside this package, so neither Node nor TypeScript would find
 * "flexolmo-lab". We resolve it in the kernel process only, to the package the kernel was
 * installed from (so runtime and types always come from the same copy):
 *
 *  - runtime: `Module._resolveFilename` rewrites the request "flexolmo-lab[/sub]" to the package
 *    root (and "@tensorflow/tfjs-core" to the copy our package uses, so a notebook's `tf` is the same
 *    engine and backend as the library's);
 *  - types: tslab compiles cells with its own TypeScript 5.0.4 fork, whose file-system calls go
 *    through `ts.sys` (tslab already forwards `<cwd>/node_modules/tslab` this way, see
 *    converter.js `forwardTslabPath`). We wrap `ts.sys.fileExists / directoryExists / readFile /
 *    realpath` so that any path `<dir>/node_modules/flexolmo-lab/<rest>` reads `<package root>/<rest>`.
 *    Node10 module resolution then finds `package.json` → `types`, and `realpath` hands the checker
 *    the real file, so relative imports inside our .d.ts files resolve normally.
 */
import Module from "node:module";
import path from "node:path";

/** A package name and the directory it should resolve to. */
export interface Forward {
  name: string;
  target: string;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Where a file-system path should really point: `<anything>/node_modules/<name>/<rest>` →
 * `<target>/<rest>` for the first forward that matches, else undefined. Paths use forward slashes
 * (TypeScript normalises them), so backslashes are normalised first.
 */
export function forwardPath(p: string, forwards: readonly Forward[]): string | undefined {
  const norm = p.replace(/\\/g, "/");
  for (const f of forwards) {
    const m = new RegExp(`^.*?/node_modules/${escapeRe(f.name)}(/.*)?$`).exec(norm);
    if (m) return f.target.replace(/\\/g, "/") + (m[1] ?? "");
  }
  return undefined;
}

/** A module request ("flexolmo-lab", "flexolmo-lab/dist/lib/x") rewritten to an absolute path, or undefined. */
export function forwardRequest(request: string, forwards: readonly Forward[]): string | undefined {
  for (const f of forwards) {
    if (request === f.name) return f.target;
    if (request.startsWith(f.name + "/")) return path.join(f.target, request.slice(f.name.length + 1));
  }
  return undefined;
}

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

/**
 * Patch Node's resolver for the forwarded packages. `tslabMain` (optional): tslab's
 * `startKernel` looks for another tslab under the notebook folder's node_modules and would hand
 * the kernel to it, bypassing our patches; any other `node_modules/tslab/dist/main.js` is resolved
 * to ours instead.
 */
export function installRuntimeForwarding(forwards: readonly Forward[], tslabMain?: string): void {
  const M = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = M._resolveFilename;
  M._resolveFilename = function (this: unknown, request, parent, isMain, options) {
    const fwd = forwardRequest(request, forwards);
    const resolved = original.call(this, fwd ?? request, parent, isMain, options);
    if (tslabMain && resolved !== tslabMain && /[\\/]node_modules[\\/]tslab[\\/]dist[\\/]main\.js$/.test(resolved)) return tslabMain;
    return resolved;
  };
}

/** The part of TypeScript's `System` we wrap. */
export interface TsSys {
  fileExists(p: string): boolean;
  directoryExists(p: string): boolean;
  readFile(p: string, encoding?: string): string | undefined;
  realpath?(p: string): string;
}

/** Wrap `sys` in place so TypeScript sees the forwarded packages under every node_modules. */
export function installTypeForwarding(sys: TsSys, forwards: readonly Forward[]): void {
  const fileExists = sys.fileExists.bind(sys);
  const directoryExists = sys.directoryExists.bind(sys);
  const readFile = sys.readFile.bind(sys);
  const realpath = sys.realpath?.bind(sys);
  sys.fileExists = (p) => fileExists(forwardPath(p, forwards) ?? p);
  sys.directoryExists = (p) => directoryExists(forwardPath(p, forwards) ?? p);
  sys.readFile = (p, enc) => readFile(forwardPath(p, forwards) ?? p, enc);
  sys.realpath = (p) => {
    const f = forwardPath(p, forwards);
    return realpath ? realpath(f ?? p) : (f ?? p);
  };
}
