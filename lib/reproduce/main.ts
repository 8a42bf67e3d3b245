#!/usr/bin/env node
/**
 * `npm run reproduce [-- flags]`: `flexolmo reproduce --out <this repository> [flags]`
 * (lib/cli/commands/reproduce.ts). The repository is the output folder here, so the study's files
 * land where they are committed (results/, docs/results.md, docs/figures/); `flexolmo reproduce`
 * itself writes under runs/reproduce unless told otherwise. A user's own --out wins.
 */
import { main } from "../cli/main";
import { packageRoot } from "../util/package";

/** The arguments for the CLI: `--out <repository>` first, unless `argv` has an --out of its own. */
export function reproduceArgs(argv: string[], root: string = packageRoot()): string[] {
  const own = argv.some((a) => a === "--out" || a.startsWith("--out="));
  return ["reproduce", ...(own ? [] : ["--out", root]), ...argv];
}

if (require.main === module) {
  main(reproduceArgs(process.argv.slice(2))).then(
    (code) => {
      process.exitCode = code; // let stdout drain instead of process.exit()
    },
    (e) => {
      process.stderr.write(`reproduce: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
