/**
 * The progress line every long command shows on stderr: what it is doing, how far it is (per cent
 * and units done of the total), how fast it goes and when it should finish.
 *
 *   pipeline · owners math, code · 45% 104/230 steps · 6.2 steps/s · ETA 0:21
 *
 * On a terminal it is one line, rewritten in place (`\r` + erase-to-end-of-line), and log lines
 * printed through `log()` appear above it. Where stderr is a file or a pipe, or in CI (env `CI`),
 * or on a `TERM=dumb` terminal, carriage returns would pile up into one unreadable line, so the
 * same text is printed as a plain line instead: on the first update, then at most once per
 * `interval` (default 10 s), and at the end.
 *
 * The rate and the ETA are averages since the line was created (`start`): the work a command
 * counts (training steps) is interleaved with work it does not count (evaluations, checkpoints),
 * and an average over the whole run spreads that time over the counted units, so the ETA includes
 * it instead of promising only the training time. Units that were already done before this run
 * (a resumed run's reused seeds) count toward the per cent, not toward the rate.
 *
 * Everything external — the stream, the clock, the environment — is a parameter, so the format and
 * the ETA arithmetic are unit-tested with a fake clock and a fake stream.
 */
import { terminalSafe } from "../util/text";
import type { CliIO } from "./registry";

/** Where the line goes: a stream's `write` plus whether it is a terminal (and how wide). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Names the command at the start of the line, e.g. "pipeline". */
  label: string;
  /** Units of work in the whole run; undefined while unknown (the line then shows elapsed time). */
  total?: number;
  /** The unit's name, plural: "steps", "seeds". Default "steps". */
  unit?: string;
  stream: ProgressStream;
  /** Milliseconds, monotonic. Default `performance.now`. */
  now?: () => number;
  /** For CI detection. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Minimum milliseconds between plain (non-terminal) lines. Default 10 000. */
  interval?: number;
  /** Minimum milliseconds between redraws on a terminal (a training step can be 5 ms). Default 100. */
  redraw?: number;
  /** Show the rate (units/s). Off where a unit is long and uneven (a seed of the study: 15 min). Default true. */
  showRate?: boolean;
}

/** Whether `stream` gets the rewritten line (a terminal, not CI, not TERM=dumb) or plain lines. */
export function isInteractive(stream: ProgressStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!stream.isTTY) return false;
  const ci = env.CI;
  if (ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false") return false;
  return env.TERM !== "dumb";
}

/** Seconds as `m:ss` or `h:mm:ss` (an ETA is read at a glance; tenths of a second would only flicker). */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/** Units per second, with one decimal below 10 (a slow CPU run does 2.4 steps/s, a fast one 350). */
export function formatRate(perSecond: number): string {
  return perSecond < 10 ? perSecond.toFixed(1) : String(Math.round(perSecond));
}

/**
 * Seconds left: the units still to do at the average rate so far, `elapsed × remaining / done`
 * (counting only units done in this run). Undefined before anything was done or when the total is
 * unknown; 0 once done ≥ total.
 */
export function etaSeconds(done: number, total: number | undefined, elapsedSeconds: number, doneAtStart = 0): number | undefined {
  if (total === undefined) return undefined;
  if (done >= total) return 0;
  const progressed = done - doneAtStart;
  if (progressed <= 0 || elapsedSeconds <= 0) return undefined;
  return (elapsedSeconds * (total - done)) / progressed;
}

/** Progress lines created and not yet finished (a command's line owns stderr while it runs). */
let activeLines = 0;

/**
 * Whether a progress line is running now. A training call's default terminal line
 * (lib/flex/train-view.ts) stays off then, so `reproduce` or `compare` in a terminal keep one line.
 */
export function progressLineActive(): boolean {
  return activeLines > 0;
}

export class Progress {
  private readonly unit: string;
  private readonly now: () => number;
  private readonly interactive: boolean;
  private readonly interval: number;
  private readonly redraw: number;
  private readonly started: number;
  private total?: number;
  private done = 0;
  private doneAtStart?: number;
  private stageName = "";
  /** Latest figures shown after the count (e.g. a training call's loss and tokens/s). */
  private detail = "";
  /** Text of the line on screen (terminal mode), "" when none is drawn. */
  private drawn = "";
  private lastWrite = -Infinity;
  private lastPlain = "";
  private finished = false;

  constructor(private readonly opts: ProgressOptions) {
    this.unit = opts.unit ?? "steps";
    this.now = opts.now ?? (() => performance.now());
    this.interactive = isInteractive(opts.stream, opts.env ?? process.env);
    this.interval = opts.interval ?? 10_000;
    this.redraw = opts.redraw ?? 100;
    this.total = opts.total;
    this.started = this.now();
    activeLines++;
  }

  /** True when the line is rewritten in place (a terminal), false for plain lines. */
  get tty(): boolean {
    return this.interactive;
  }

  /**
   * What the run is doing now, shown after the label. A terminal shows a new stage at once; plain
   * output waits for the next periodic line (the command's own log already says a stage began).
   */
  stage(name: string): void {
    if (name === this.stageName) return;
    this.stageName = name;
    if (this.interactive) this.show(true);
  }

  /**
   * Units done so far (absolute, not an increment); `total` when it becomes known or changes;
   * `detail`, figures shown after the count (they change every step, so unlike `stage` they wait
   * for the next redraw instead of forcing one).
   */
  update(done: number, total?: number, detail?: string): void {
    if (total !== undefined) this.total = total;
    if (detail !== undefined) this.detail = detail;
    if (this.doneAtStart === undefined) this.doneAtStart = done;
    this.done = done;
    this.show(false);
  }

  /**
   * `n` units that need no work in this run (a reused seed): they count toward the per cent, not
   * toward the rate, wherever in the run they come.
   */
  skip(n: number): void {
    this.doneAtStart = (this.doneAtStart ?? this.done) + n;
    this.done += n;
    this.show(false);
  }

  /** A log line: printed above the progress line (terminal) or as it is (plain). */
  log(text: string): void {
    const body = terminalSafe(text.endsWith("\n") ? text : `${text}\n`);
    if (this.interactive && this.drawn) {
      this.opts.stream.write(`\r\x1b[K${body}`);
      this.opts.stream.write(`\r${this.drawn}\x1b[K`);
    } else this.opts.stream.write(body);
  }

  /** Remove the line (terminal) or print the final state once (plain). Further calls do nothing. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    activeLines--;
    if (this.interactive) {
      if (this.drawn) this.opts.stream.write("\r\x1b[K");
      this.drawn = "";
    } else {
      const line = this.line();
      if (line !== this.lastPlain) this.opts.stream.write(`${line}\n`);
    }
  }

  /** The line as text (no control characters), for the current state. */
  line(): string {
    const elapsed = (this.now() - this.started) / 1000;
    const parts = [this.opts.label];
    if (this.stageName) parts.push(this.stageName);
    const total = this.total;
    // A fractional count (part of a seed done) with one decimal; whole units as they are.
    const count = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
    if (total !== undefined && total > 0) {
      const pct = Math.min(100, Math.floor((100 * this.done) / total));
      parts.push(`${pct}% ${count(this.done)}/${count(total)} ${this.unit}`);
    } else if (this.done > 0) parts.push(`${count(this.done)} ${this.unit}`);
    if (this.detail) parts.push(this.detail);
    const progressed = this.done - (this.doneAtStart ?? this.done);
    if (this.opts.showRate !== false && progressed > 0 && elapsed > 0) parts.push(`${formatRate(progressed / elapsed)} ${this.unit}/s`);
    const eta = etaSeconds(this.done, total, elapsed, this.doneAtStart ?? 0);
    parts.push(eta === undefined ? `${formatClock(elapsed)} elapsed` : `ETA ${formatClock(eta)}`);
    return terminalSafe(parts.join(" · "));
  }

  private show(force: boolean): void {
    if (this.finished) return;
    const t = this.now();
    if (this.interactive) {
      if (!force && t - this.lastWrite < this.redraw) return;
      this.lastWrite = t;
      const cols = this.opts.stream.columns;
      const text = this.line();
      // One character short of the width: writing the last column makes some terminals wrap.
      this.drawn = cols && cols > 1 && text.length > cols - 1 ? `${text.slice(0, cols - 2)}…` : text;
      this.opts.stream.write(`\r${this.drawn}\x1b[K`);
      return;
    }
    if (!force && t - this.lastWrite < this.interval) return;
    this.lastWrite = t;
    this.lastPlain = this.line();
    this.opts.stream.write(`${this.lastPlain}\n`);
  }
}

/**
 * The progress line for a CLI command: on the real stderr when the CLI runs in a terminal (so the
 * control characters get through), otherwise as plain lines through `io.stderr` (tests, pipes).
 */
export function progressFor(io: CliIO, opts: Omit<ProgressOptions, "stream">): Progress {
  return new Progress({ ...opts, stream: io.terminal ?? { write: (s: string) => io.stderr(s), isTTY: false } });
}
