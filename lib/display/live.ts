/**
 * Showing things: `show(x)` for one output, `LiveDisplay` for an output that updates in place.
 *
 * LiveDisplay is what a training cell uses: every step may call `update(...)`, but the notebook gets
 * at most one refresh per `minIntervalMs` (default 250 ms ⇒ ≤ 4 Hz), always ending with the final
 * state. Inside our kernel it sends `display_data` once and then `update_display_data` for the same
 * display id (the chart redraws in place, as tslab's `newDisplay()` does). Outside a kernel it
 * prints the text/plain summary as a line, at most every `consoleIntervalMs` (default 2 s), so a
 * script's log stays readable.
 */
import { randomBytes } from "node:crypto";
import type { KernelBridge } from "./kernel-bridge";
import { kernelBridge } from "./kernel-bridge";
import type { MimeBundle } from "./mime";
import { toBundle } from "./mime";

/** Show a value once: as a rich output in the kernel, as its text/plain summary elsewhere. */
export function show(x: unknown): void {
  const bundle = toBundle(x);
  const bridge = kernelBridge();
  if (bridge) bridge.display(bundle);
  else process.stdout.write(bundle["text/plain"] + "\n");
}

export interface LiveDisplayOptions {
  /** Minimum time between notebook refreshes (default 250 ms: smooth enough, cheap for the front end). */
  minIntervalMs?: number;
  /** Minimum time between printed lines outside a kernel (default 2000 ms: a readable log). */
  consoleIntervalMs?: number;
  /** Injection points for tests; the defaults are the real clock, timers, kernel bridge and stdout. */
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  bridge?: KernelBridge | null;
  write?: (line: string) => void;
}

type Content = unknown | (() => unknown);

export class LiveDisplay {
  private readonly id = randomBytes(8).toString("hex");
  private readonly bridge: KernelBridge | undefined;
  private readonly interval: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly write: (line: string) => void;
  private pending: { content: Content } | undefined;
  private timer: unknown;
  private lastSent = -Infinity;
  private shown = false;
  private closed = false;
  /** How many refreshes actually went out (for tests and curiosity). */
  sends = 0;

  constructor(opts: LiveDisplayOptions = {}) {
    this.bridge = opts.bridge === undefined ? kernelBridge() : (opts.bridge ?? undefined);
    this.interval = this.bridge ? (opts.minIntervalMs ?? 250) : (opts.consoleIntervalMs ?? 2000);
    if (!(this.interval >= 0)) throw new Error(`LiveDisplay interval must be ≥ 0 ms (got ${this.interval}).`);
    this.now = opts.now ?? (() => performance.now());
    this.setTimer =
      opts.setTimer ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref(); // a pending refresh must never keep a script alive
        return t;
      });
    this.clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    this.write = opts.write ?? ((line) => process.stdout.write(line + "\n"));
  }

  /** True when refreshes go to a notebook output (false: printed lines). */
  get inKernel(): boolean {
    return this.bridge !== undefined;
  }

  /**
   * Offer a new state. `content` is anything `toBundle` accepts, or a function returning it; a
   * function is only called when a refresh actually goes out, so building charts stays off the hot path.
   */
  update(content: Content): void {
    if (this.closed) throw new Error("LiveDisplay.update after done(): create a new LiveDisplay for a new output.");
    this.pending = { content };
    const wait = this.lastSent + this.interval - this.now();
    if (wait <= 0) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = this.setTimer(() => {
        this.timer = undefined;
        this.flush();
      }, wait);
    }
  }

  /** Show the final state now (the last `update`, or `final` if given) and stop. Safe to call twice. */
  done(final?: Content): void {
    if (this.closed) return;
    if (final !== undefined) this.pending = { content: final };
    if (this.timer !== undefined) {
      this.clearTimer(this.timer);
      this.timer = undefined;
    }
    this.flush();
    this.closed = true;
  }

  private flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const value = typeof p.content === "function" ? (p.content as () => unknown)() : p.content;
    const bundle: MimeBundle = toBundle(value);
    this.lastSent = this.now();
    this.sends++;
    if (this.bridge) {
      this.bridge.display(bundle, { displayId: this.id, update: this.shown });
      this.shown = true;
    } else {
      this.write(bundle["text/plain"]);
    }
  }
}
