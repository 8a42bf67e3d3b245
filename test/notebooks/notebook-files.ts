/**
 * The committed tutorial notebooks as files: where they are, what "stripped" means, and a small CLI
 * to strip executed notebooks before committing them:
 *
 *     node dist/test/notebooks/notebook-files.js --strip notebooks/*.ipynb
 *
 * Stripping removes what changes on every run without changing the content: nbclient's per-cell
 * execution timestamps (`metadata.execution`) and the kernel's `language_info.version`. Outputs,
 * execution counts and our own `metadata.flexolmo` (per-cell timeouts) stay.
 */
import fs from "node:fs";
import path from "node:path";

/** notebooks/ in the source tree (this file runs from dist/test/notebooks/). */
export const NOTEBOOK_DIR = path.resolve(__dirname, "..", "..", "..", "notebooks");

/** The nine tutorials, in order. */
export const TUTORIALS = [
  "01-quickstart",
  "02-the-data",
  "03-the-public-model",
  "04-owner-experts",
  "05-merging-and-routing",
  "06-opt-in-opt-out",
  "07-router-tuning",
  "08-baselines-and-ablations",
  "09-privacy",
] as const;

/** The committed size budget per notebook. */
export const MAX_NOTEBOOK_BYTES = 2 * 1024 * 1024;

interface Nb {
  metadata: Record<string, unknown> & { language_info?: Record<string, unknown> };
  cells: Array<{ metadata?: Record<string, unknown> }>;
}

/** Remove volatile metadata in place; returns whether anything changed. */
export function stripNotebook(nb: Nb): boolean {
  let changed = false;
  for (const c of nb.cells) {
    if (c.metadata && "execution" in c.metadata) {
      delete c.metadata.execution;
      changed = true;
    }
  }
  if (nb.metadata.language_info && "version" in nb.metadata.language_info) {
    delete nb.metadata.language_info.version;
    changed = true;
  }
  return changed;
}

/** Volatile fields still present (empty = stripped). */
export function volatileFields(nb: Nb): string[] {
  const out: string[] = [];
  nb.cells.forEach((c, i) => {
    if (c.metadata && "execution" in c.metadata) out.push(`cells[${i}].metadata.execution`);
  });
  if (nb.metadata.language_info && "version" in nb.metadata.language_info) out.push("metadata.language_info.version");
  return out;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] !== "--strip" || args.length < 2) throw new Error("Usage: node dist/test/notebooks/notebook-files.js --strip NOTEBOOK.ipynb ...");
  for (const f of args.slice(1)) {
    const nb = JSON.parse(fs.readFileSync(f, "utf8")) as Nb;
    const changed = stripNotebook(nb);
    const tmp = `${f}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(sortKeys(nb), null, 1) + "\n"); // nbformat's own layout: sorted keys, indent 1
    fs.renameSync(tmp, f); // atomic: a failed write never leaves half a notebook
    console.log(`${changed ? "stripped" : "unchanged"} ${f} (${fs.statSync(f).size} bytes)`);
  }
}

// `node --test dist/test/` also loads every .js file under a test/ folder as a test file (Node's
// default patterns); without the flag this file then does nothing and exits cleanly.
if (require.main === module && process.argv[2] === "--strip") main();
