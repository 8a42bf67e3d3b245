/**
 * The command registry. Every module in `lib/cli/commands/` that exports `command` (or `commands`)
 * becomes a subcommand, so later commands (`pipeline`, `train-owner`, `merge`, …) are added by
 * dropping in a file; nothing here or in `main.ts` needs editing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { FlagSpec, ParsedArgs, PositionalSpec } from "./args";

/** Where a command writes. Tests pass capturing functions; the CLI passes process streams. */
export interface CliIO {
  /** Results: tables, JSON. */
  stdout: (text: string) => void;
  /** Progress and logs. */
  stderr: (text: string) => void;
  /**
   * The process's real stderr, for the progress line (lib/cli/progress.ts): it rewrites itself with
   * `\r` and an erase-line sequence, which `stderr` would escape. Absent in tests: plain lines.
   */
  terminal?: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

export interface Command {
  /** The subcommand word, e.g. "logits". */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** More text for `--help`. */
  description?: string;
  positionals: PositionalSpec[];
  flags: FlagSpec[];
  examples?: string[];
  /**
   * The command computes with TF.js: main initialises the backend first (adding a --backend flag)
   * and reports it on stderr.
   */
  needsBackend?: boolean;
  /** Returns the exit code (default 0). Throw `UsageError` for bad input (exit 2), anything else for failures (exit 1). */
  run(args: ParsedArgs, io: CliIO): Promise<number | void>;
}

const registered = new Map<string, Command>();

/** Register a command programmatically (e.g. from a plugin or a test). */
export function registerCommand(cmd: Command): void {
  if (!/^[a-z][a-z0-9-]*$/.test(cmd.name)) throw new Error(`invalid command name "${cmd.name}" (lowercase words joined by dashes)`);
  const prev = registered.get(cmd.name);
  if (prev && prev !== cmd) throw new Error(`two commands are named "${cmd.name}"`);
  registered.set(cmd.name, cmd);
}

let discovered = false;

/** Load every command module in ./commands once (compiled .js, or .ts under ts-node). */
function discover(): void {
  if (discovered) return;
  discovered = true;
  const dir = path.join(__dirname, "commands");
  if (!fs.existsSync(dir)) return;
  const ext = path.extname(__filename); // ".js" when compiled, ".ts" under ts-node/tsx
  for (const file of fs.readdirSync(dir).sort()) {
    if (!file.endsWith(ext) || file.endsWith(".d.ts")) continue;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require(path.join(dir, file)) as { command?: Command; commands?: Command[] };
    for (const c of [...(mod.command ? [mod.command] : []), ...(mod.commands ?? [])]) registerCommand(c);
  }
}

export function getCommand(name: string): Command | undefined {
  discover();
  return registered.get(name);
}

export function listCommands(): Command[] {
  discover();
  return [...registered.values()].sort((a, b) => a.name.localeCompare(b.name));
}
