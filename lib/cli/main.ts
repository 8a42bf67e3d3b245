#!/usr/bin/env node
/**
 * `flexolmo`: the command-line entry point (package.json "bin").
 *
 *   flexolmo <command> [arguments] [flags]
 *   flexolmo <command> --help
 *
 * Exit codes: 0 success, 1 the command failed (bad checkpoint, I/O error, …), 2 usage error
 * (unknown command or flag, bad flag value). Commands live in `lib/cli/commands/` and are found
 * by `registry.ts`; the backend a command computes on is printed to stderr.
 */
import { FileError, describeFsError } from "../util/fs";
import { packageVersion } from "../util/package";
import { terminalSafe } from "../util/text";
import { type FlagSpec, UsageError, formatCommandHelp, parseArgs, suggest } from "./args";
import { type CliIO, type Command, getCommand, listCommands } from "./registry";

const PROG = "flexolmo";

const BACKEND_FLAG: FlagSpec = {
  name: "backend",
  type: "string",
  metavar: "NAME",
  help: "TF.js backend: tfjs-node-gpu, webgpu, tfjs-node, wasm or cpu (default: fastest available; env FLEXOLMO_BACKEND)",
};

function flagsOf(cmd: Command): FlagSpec[] {
  return cmd.needsBackend ? [...cmd.flags, BACKEND_FLAG] : cmd.flags;
}

function globalHelp(): string {
  const cmds = listCommands();
  const width = Math.max(8, ...cmds.map((c) => c.name.length)) + 2;
  return [
    `Usage: ${PROG} <command> [arguments] [flags]`,
    "",
    "FlexOlmo Lab: inspect and run FlexOlmo checkpoints (Hugging Face FlexOlmoForCausalLM layout).",
    "",
    "Commands:",
    ...cmds.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    `Run '${PROG} <command> --help' for a command's arguments and flags.`,
    "",
  ].join("\n");
}


/**
 * The message for an error that reached the top. Node's file-system errors ("EACCES: permission
 * denied, open '…'") are restated as what was wrong and what to do; everything else already is.
 */
export function errorMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const sys = e as NodeJS.ErrnoException;
  if (!(e instanceof FileError) && typeof sys.code === "string" && typeof sys.syscall === "string") {
    const verbs: Record<string, string> = { open: "open", read: "read", write: "write", mkdir: "create the folder", rename: "rename", unlink: "remove", rmdir: "remove", scandir: "list the folder", stat: "access", lstat: "access", copyfile: "copy" };
    return describeFsError(e, verbs[sys.syscall] ?? sys.syscall, sys.path ?? "a file").message;
  }
  return e.message;
}

/**
 * Every byte the CLI prints passes through here: checkpoint-controlled text (expert names, data
 * cards, tensor names in error messages) cannot reach the terminal raw, whichever printer it took.
 */
function safeIO(io: CliIO): CliIO {
  // `terminal` is the progress line's: lib/cli/progress.ts escapes its text itself and adds only its own \r and erase-line.
  return { stdout: (s) => io.stdout(terminalSafe(s)), stderr: (s) => io.stderr(terminalSafe(s)), ...(io.terminal ? { terminal: io.terminal } : {}) };
}

/** Run the CLI with `argv` (without `node` and the script path). Resolves to the exit code. */
export async function main(argv: string[], rawIO: CliIO = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), terminal: process.stderr }): Promise<number> {
  const io = safeIO(rawIO);
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(globalHelp());
    return 2;
  }
  if (name === "-h" || name === "--help" || name === "help") {
    const target = name === "help" && rest[0] ? getCommand(rest[0]) : undefined;
    io.stdout(target ? formatCommandHelp(PROG, { ...target, flags: flagsOf(target) }) : globalHelp());
    return 0;
  }
  if (name === "--version" || name === "-V") {
    io.stdout(`${packageVersion()}\n`);
    return 0;
  }
  const cmd = getCommand(name);
  if (!cmd) {
    const names = listCommands().map((c) => c.name);
    io.stderr(`${PROG}: unknown command "${name}"${suggest(name, names)}. Commands: ${names.join(", ")}. Run '${PROG} --help'.\n`);
    return 2;
  }
  try {
    const args = parseArgs(rest, flagsOf(cmd), cmd.positionals);
    if (args.help) {
      io.stdout(formatCommandHelp(PROG, { ...cmd, flags: flagsOf(cmd) }));
      return 0;
    }
    if (cmd.needsBackend) {
      const { initBackend } = await import("../backend");
      const report = await initBackend((args.flags.backend as string | undefined) ?? undefined);
      io.stderr(`backend: ${report.summary}\n`);
    }
    const code = await cmd.run(args, io);
    return code ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`${PROG} ${cmd.name}: ${e.message}\nRun '${PROG} ${cmd.name} --help' for usage.\n`);
      return 2;
    }
    io.stderr(`${PROG} ${cmd.name}: ${errorMessage(e)}\n`);
    if (process.env.FLEXOLMO_DEBUG && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    return 1;
  }
}

/**
 * Output piped into a reader that stops early (`flexolmo logits … | head`) makes the next write
 * fail with EPIPE, which Node raises as an unhandled 'error' event: a stack trace on stderr and
 * exit code 1 for what is a normal end of a pipeline. The reader has all it wanted; exit quietly.
 */
function exitQuietlyOnBrokenPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

if (require.main === module) {
  exitQuietlyOnBrokenPipe();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code; // let stdout drain instead of process.exit()
    },
    (e) => {
      process.stderr.write(terminalSafe(`${PROG}: internal error: ${e instanceof Error ? e.stack : String(e)}\n`));
      process.exitCode = 1;
    },
  );
}
