/**
 * What `await pub.train({ steps })` and `await owner.train({ steps })` show while they run, unless
 * told otherwise (`live: false`):
 *  - inside the notebook kernel (the preload installed the display bridge, lib/display/kernel-bridge):
 *    the live training view of lib/inspect/live.ts — progress bar, loss, tokens/s, ETA — one output
 *    updated in place, left in its final state;
 *  - in a terminal (stderr is a TTY, not CI, not TERM=dumb): the CLI's progress line on stderr
 *    (lib/cli/progress.ts), with the latest loss and tokens/s;
 *  - anywhere else (a script piped to a file, a test, CI): nothing, so logs stay as they were.
 *
 * A caller that passes its own `onProgress` is already watching (the tutorial's live view, the
 * pipeline's progress line), so the default view is off then: two renderings of the same steps
 * would only compete; a CLI command that shows its own progress line (lib/cli/progress.ts) keeps
 * stderr to itself. `live: true` asks for the view anyway, and outside a kernel and a terminal it
 * prints plain progress lines on stderr (every 10 s and at the end).
 */
import { kernelBridge } from "../display/kernel-bridge";
import { isInteractive, Progress, progressLineActive, type ProgressStream } from "../cli/progress";
import { LiveTraining, type LiveTrainingOptions } from "../inspect/live";
import type { TrainOptions } from "../train/session";
import type { StepProgress } from "../train/trainer";
import type { TrainRecord } from "./records";

/** The keys `train` accepts on the public model and on owners (a misspelt one is refused). */
export const TRAIN_OPTION_KEYS = ["steps", "signal", "onProgress", "schedule", "live"] as const;

/** A running view: feed it each step, then close it with the record (or without, after an error). */
export interface TrainView {
  onProgress(p: StepProgress): void;
  done(record?: TrainRecord): void;
}

/** Test seams; the defaults are the real kernel bridge, process.stderr and process.env. */
export interface TrainViewEnv {
  stream?: ProgressStream;
  env?: NodeJS.ProcessEnv;
  /** LiveTraining display settings (fake clock and bridge in tests). */
  display?: LiveTrainingOptions["display"];
}

/** The default view for one train call, or undefined when nothing should be shown. */
export function trainView(title: string, opts: TrainOptions, experts?: readonly string[], seams: TrainViewEnv = {}): TrainView | undefined {
  if (opts.live !== undefined && typeof opts.live !== "boolean") throw new Error(`${title}.train: live must be true or false (got ${JSON.stringify(opts.live)}).`);
  const wanted = opts.live ?? opts.onProgress === undefined;
  if (!wanted || opts.steps < 1) return undefined;
  const bridge = seams.display?.bridge === undefined ? kernelBridge() : (seams.display.bridge ?? undefined);
  if (bridge) {
    const view = new LiveTraining(title, { totalSteps: opts.steps, experts, display: { ...seams.display, bridge } });
    return { onProgress: view.onProgress, done: (r) => view.done(r) };
  }
  const stream = seams.stream ?? process.stderr;
  const env = seams.env ?? process.env;
  // Outside a kernel only a terminal gets the line by default (redirected output stays unchanged),
  // and not while a command's own progress line (reproduce, compare) is on it.
  if (opts.live !== true && (!isInteractive(stream, env) || progressLineActive())) return undefined;
  const line = new Progress({ label: title, total: opts.steps, stream, env });
  let done = 0;
  return {
    onProgress(p) {
      done++;
      line.update(done, undefined, `loss ${p.loss.toFixed(3)} · ${Math.round(p.tokensPerSec).toLocaleString("en-US")} tok/s`);
    },
    done() {
      line.finish();
    },
  };
}

/** Run `train` with the default view around it; the view ends on the record, or stopped on an error. */
export async function withTrainView(title: string, opts: TrainOptions, experts: readonly string[] | undefined, train: (opts: TrainOptions) => Promise<TrainRecord>): Promise<TrainRecord> {
  const view = opts && Number.isInteger(opts.steps) ? trainView(title, opts, experts) : undefined;
  if (!view) return train(opts);
  const own = opts.onProgress;
  let record: TrainRecord | undefined;
  try {
    record = await train({
      ...opts,
      onProgress: (p) => {
        view.onProgress(p);
        own?.(p);
      },
    });
    return record;
  } finally {
    view.done(record);
  }
}
