/**
 * code ← three pinned npm sources, so the domain is not all Python and does not drift with
 * Debian point releases:
 *   - python: CPython 3.13 standard library from pyodide's python_stdlib.zip (top-level
 *     modules, not private `_x.py`, under 150 k characters), hash-ordered up to a budget;
 *   - javascript: lodash's per-function CommonJS modules (heavy JSDoc: natural text + code);
 *   - typescript: RxJS's `src/internal/**.ts` (doc comments with examples).
 * Files are chunked at top-level definitions (≤ 4 k characters). Parent = the file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILD_CONFIG } from "../config";
import { NPM_SOURCES } from "../sources";
import { Doc, docsOf } from "../types";
import { zipEntries, zipRead } from "../zip";
import { chunkCode, compareStrings, hashOrder, listFiles, normalizeText } from "../util";

/** Modules that are data tables, jokes or generated code rather than readable Python. */
const PYTHON_EXCLUDE = new Set(["antigravity.py", "this.py", "stringprep.py", "keyword.py", "token.py", "opcode.py", "__hello__.py", "__future__.py"]);

/** True for files that only re-export (index.ts barrels): no code to learn from. */
function isReexportOnly(text: string): boolean {
  const lines = text.split("\n").filter((l) => l.trim() !== "" && !/^\s*(\/\/|\/?\*)/.test(l));
  return lines.length > 0 && lines.filter((l) => /^export (\*|\{|type \{)/.test(l) || /^\s+\w+,?$/.test(l) || /^\} from /.test(l)).length / lines.length > 0.6;
}

export function extractCode(dirs: { pyodide: string; lodash: string; rxjs: string }): Doc[] {
  const docs: Doc[] = [];
  const max = BUILD_CONFIG.codeChunk;

  // Python: hash-ordered selection up to the Python budget, so the mix stays ~half Python.
  const py = NPM_SOURCES.pyodide;
  const zip = fs.readFileSync(path.join(dirs.pyodide, "python_stdlib.zip"));
  const candidates = zipEntries(zip).filter((e) => /^[a-zA-Z][\w]*\.py$/.test(e.name) && !PYTHON_EXCLUDE.has(e.name) && e.size >= 300 && e.size < 150_000);
  if (candidates.length < 100) throw new Error(`code: expected >100 top-level stdlib modules in python_stdlib.zip, found ${candidates.length}`);
  let budget = BUILD_CONFIG.pythonChars;
  for (const e of hashOrder(candidates, (c) => c.name, "python")) {
    if (budget <= 0) break;
    const text = normalizeText(zipRead(zip, e).toString("utf8"));
    budget -= text.length;
    docs.push(
      ...docsOf(
        { origin: "code", family: "python", parent: `code/python-${e.name.replace(/\.py$/, "")}`, source: `${py.name}@${py.version}:python_stdlib.zip/${e.name}`, license: "PSF-2.0" },
        chunkCode(text, max),
      ),
    );
  }

  // JavaScript: every lodash module except the bundles and tiny alias stubs.
  const lo = NPM_SOURCES.lodash;
  for (const f of fs.readdirSync(dirs.lodash).filter((f) => f.endsWith(".js")).sort(compareStrings)) {
    if (["lodash.js", "core.js", "fp.js", "lodash.min.js", "core.min.js"].includes(f)) continue;
    const text = normalizeText(fs.readFileSync(path.join(dirs.lodash, f), "utf8"));
    if (text.length < 300) continue;
    docs.push(
      ...docsOf(
        { origin: "code", family: "javascript", parent: `code/lodash-${f.replace(/\.js$/, "")}`, source: `${lo.name}@${lo.version}:${f}`, license: "MIT" },
        chunkCode(text, max),
      ),
    );
  }

  // TypeScript: RxJS internals, skipping barrels and stubs.
  const rx = NPM_SOURCES.rxjs;
  const rxRoot = path.join(dirs.rxjs, "src", "internal");
  for (const f of listFiles(rxRoot).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))) {
    const text = normalizeText(fs.readFileSync(path.join(rxRoot, f), "utf8"));
    if (text.length < 300 || isReexportOnly(text)) continue;
    docs.push(
      ...docsOf(
        { origin: "code", family: "typescript", parent: `code/rxjs-${f.replace(/\.ts$/, "").replace(/\//g, "-")}`, source: `${rx.name}@${rx.version}:src/internal/${f}`, license: "Apache-2.0" },
        chunkCode(text, max),
      ),
    );
  }
  return docs;
}
