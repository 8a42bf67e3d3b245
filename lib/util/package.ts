/**
 * Where this package lives, found from the running file (lib/… under ts-node-like setups, dist/lib/…
 * when built, or node_modules/flexolmo-lab/dist/lib/… when installed): the nearest package.json named
 * flexolmo-lab above it.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

function find(): { root: string; version: string } | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pj = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf-8")) as { name?: string; version?: string };
      if (pj.name === "flexolmo-lab") return { root: dir, version: String(pj.version) };
    } catch {
      // no (readable) package.json here; keep walking up
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

let found: ReturnType<typeof find> | null = null;
const cached = () => (found === null ? (found = find()) : found);

/**
 * The package's root folder: works from `lib/` (ts sources), `dist/lib/` and `dist/kernel/` (built)
 * and `node_modules/flexolmo-lab/…` (installed), whatever the cwd.
 */
export function packageRoot(): string {
  const f = cached();
  if (!f) throw new Error(`packageRoot: no package.json named "flexolmo-lab" above ${__dirname}; the package's files are incomplete (reinstall it).`);
  return f.root;
}

/** The package version, or "unknown" when no package.json is found. */
export function packageVersion(): string {
  return cached()?.version ?? "unknown";
}

/**
 * The git commit this package was built from, with " + uncommitted changes" when tracked files differ
 * from it (so a record never claims a commit it was not built from), or undefined outside a git
 * checkout (an npm install).
 */
export function gitCommit(): string | undefined {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: __dirname, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  try {
    const head = git("rev-parse", "HEAD");
    if (!head) return undefined;
    return git("status", "--porcelain", "--untracked-files=no") ? `${head} + uncommitted changes` : head;
  } catch {
    return undefined;
  }
}
