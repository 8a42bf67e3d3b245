#!/usr/bin/env node
/**
 * `npm run reproduce [-- flags]`: the same as `flexolmo reproduce [flags]` (lib/cli/commands/reproduce.ts).
 */
import { main } from "../cli/main";

main(["reproduce", ...process.argv.slice(2)]).then(
  (code) => {
    process.exitCode = code; // let stdout drain instead of process.exit()
  },
  (e) => {
    process.stderr.write(`reproduce: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  },
);
