/**
 * A small, strict argument parser for the `flexolmo` CLI.
 *
 * Each command declares its positionals and flags as data; the parser turns argv into typed values
 * and throws `UsageError` (exit code 2) with a message that says what was wrong and how to get help.
 * Supported forms: `--flag value`, `--flag=value`, boolean `--flag`, repeatable flags, `--` to end
 * flags, `-h` / `--help`.
 */
import { suggest } from "../util/options";

export { suggest }; // the closest known name, for "did you mean" (commands and flags)

export type FlagType = "string" | "int" | "number" | "boolean";

export interface FlagSpec {
  /** Long name without dashes, e.g. "top-k". */
  name: string;
  type: FlagType;
  help: string;
  /** Placeholder in help text, e.g. "K". */
  metavar?: string;
  /** May be given several times; the value is then an array. */
  repeatable?: boolean;
  /** Allowed values (string flags). */
  choices?: readonly string[];
}

export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
  /** The last positional only: takes every remaining argument (at least one unless optional). */
  variadic?: boolean;
}

export type FlagValue = string | number | boolean | string[] | number[];

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, FlagValue | undefined>;
  help: boolean;
}

/** A mistake in how the command was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function convert(spec: FlagSpec, raw: string): string | number {
  if (spec.type === "int") {
    if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`--${spec.name} must be an integer (got "${raw}")`);
    return Number(raw);
  }
  if (spec.type === "number") {
    const v = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(v)) throw new UsageError(`--${spec.name} must be a number (got "${raw}")`);
    return v;
  }
  if (spec.choices && !spec.choices.includes(raw)) throw new UsageError(`--${spec.name} must be one of ${spec.choices.join(", ")} (got "${raw}")`);
  return raw;
}

/** Parse argv (without the command name) against a command's declared flags and positionals. */
export function parseArgs(argv: string[], flags: FlagSpec[], positionals: PositionalSpec[]): ParsedArgs {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const out: ParsedArgs = { positionals: [], flags: {}, help: false };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (tok === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (tok === "-h" || tok === "--help") {
      out.help = true;
      continue;
    }
    if (!tok.startsWith("-") || tok === "-") {
      out.positionals.push(tok);
      continue;
    }
    if (!tok.startsWith("--")) throw new UsageError(`unknown option ${tok} (flags are spelled --name)${suggest(`--${tok.replace(/^-+/, "")}`, flags.map((f) => `--${f.name}`))}`);
    const eq = tok.indexOf("=");
    const name = tok.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown flag --${name}${suggest(`--${name}`, flags.map((f) => `--${f.name}`))}`);
    let value: string | number | boolean;
    if (spec.type === "boolean") {
      if (eq >= 0) {
        const raw = tok.slice(eq + 1);
        if (raw !== "true" && raw !== "false") throw new UsageError(`--${name} is a switch; use --${name} or --${name}=true|false (got "${raw}")`);
        value = raw === "true";
      } else value = true;
    } else {
      let raw: string;
      if (eq >= 0) raw = tok.slice(eq + 1);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value${spec.metavar ? ` (${spec.metavar})` : ""}`);
        raw = argv[++i];
      }
      value = convert(spec, raw);
    }
    if (spec.repeatable) {
      const prev = (out.flags[name] as (string | number)[] | undefined) ?? [];
      out.flags[name] = [...prev, value as string | number] as string[] | number[];
    } else {
      if (out.flags[name] !== undefined) throw new UsageError(`--${name} was given twice`);
      out.flags[name] = value;
    }
  }
  if (out.help) return out;
  const required = positionals.filter((p) => !p.optional).length;
  if (out.positionals.length < required) {
    const missing = positionals.slice(out.positionals.length).filter((p) => !p.optional).map((p) => p.name);
    throw new UsageError(`missing ${missing.join(", ")}`);
  }
  const variadic = positionals.length > 0 && positionals[positionals.length - 1].variadic === true;
  if (!variadic && out.positionals.length > positionals.length) throw new UsageError(`unexpected argument "${out.positionals[positionals.length]}"`);
  return out;
}

/** Help text for one command. */
export function formatCommandHelp(prog: string, cmd: { name: string; summary: string; description?: string; positionals: PositionalSpec[]; flags: FlagSpec[]; examples?: string[] }): string {
  const pos = cmd.positionals.map((p) => `${p.optional ? `[${p.name}]` : p.name}${p.variadic ? " ..." : ""}`).join(" ");
  const lines = [`Usage: ${prog}${cmd.name ? ` ${cmd.name}` : ""}${pos ? " " + pos : ""}${cmd.flags.length ? " [flags]" : ""}`, "", cmd.summary];
  if (cmd.description) lines.push("", cmd.description);
  if (cmd.positionals.length) {
    lines.push("", "Arguments:");
    for (const p of cmd.positionals) lines.push(`  ${p.name.padEnd(24)} ${p.help}`);
  }
  const flags = [...cmd.flags, { name: "help", type: "boolean" as const, help: "show this help" }];
  lines.push("", "Flags:");
  for (const f of flags) {
    const meta = f.type === "boolean" ? "" : ` ${f.metavar ?? (f.choices ? f.choices.join("|") : f.type.toUpperCase())}`;
    const rep = f.repeatable ? " (repeatable)" : "";
    lines.push(`  ${`--${f.name}${meta}`.padEnd(24)} ${f.help}${rep}`);
  }
  if (cmd.examples?.length) {
    lines.push("", "Examples:");
    for (const e of cmd.examples) lines.push(`  ${e}`);
  }
  return lines.join("\n") + "\n";
}

/** A standalone script's command line (bench, data build, …), declared like a CLI command. */
export interface ScriptSpec {
  /** How the script is run, e.g. "node dist/bench/main.js": the help's usage line and error prefix. */
  prog: string;
  summary: string;
  description?: string;
  flags: FlagSpec[];
  positionals?: PositionalSpec[];
  examples?: string[];
}

/**
 * Parse a standalone script's arguments with the CLI's parser, so every script spells flags the
 * same way and answers a typo with "did you mean". `--help` prints the help on stdout and exits 0;
 * a usage error prints what was wrong and a pointer to --help on stderr and exits 2, as `flexolmo`
 * does. `check` validates combinations and values after parsing (throw UsageError).
 */
export function parseScriptArgs<T>(argv: string[], spec: ScriptSpec, check: (args: ParsedArgs) => T): T {
  try {
    const args = parseArgs(argv, spec.flags, spec.positionals ?? []);
    if (args.help) {
      process.stdout.write(scriptHelp(spec));
      process.exit(0);
    }
    return check(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${spec.prog}: ${e.message}\nRun '${spec.prog} --help' for usage.\n`);
    process.exit(2);
  }
}

/** The help text of a standalone script. */
export function scriptHelp(spec: ScriptSpec): string {
  return formatCommandHelp(spec.prog, { name: "", summary: spec.summary, description: spec.description, positionals: spec.positionals ?? [], flags: spec.flags, examples: spec.examples });
}
